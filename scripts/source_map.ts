/**
 * Reads a source map (version 3) far enough to say, for a position in the
 * generated file, which source file and which original name it came from:
 * what the bundle step needs to find a minified function again by its
 * source name (`lib/app_server/client.ts#initializeOn`).
 *
 * @module
 */

/** The parts of a version-3 source map this reads. */
export interface SourceMap {
  /** The source files, as the bundler wrote them. */
  sources: string[];
  /** Original identifiers. */
  names: string[];
  /** Base64-VLQ segments: `;` between lines, `,` between segments. */
  mappings: string;
}

/** Where a generated position came from. */
export interface Origin {
  /** The source file, as in {@linkcode SourceMap.sources}. */
  source: string;
  /** The original identifier, when the bundler renamed one there. */
  name?: string;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DIGIT = new Map([...BASE64].map((c, i) => [c, i]));

/** Decodes one segment's Base64-VLQ fields. */
export function decodeVlq(segment: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = DIGIT.get(char);
    if (digit === undefined) throw new Error(`not a base64 digit in a source map: ${char}`);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    values.push(value & 1 ? -Math.floor(value / 2) : Math.floor(value / 2));
    value = 0;
    shift = 0;
  }
  return values;
}

/**
 * Every mapped position of the generated file (zero-based line and column,
 * in UTF-16 units as JavaScript counts), keyed `line:column`.
 */
export function originsByPosition(map: SourceMap): Map<string, Origin> {
  const origins = new Map<string, Origin>();
  let source = 0;
  let name = 0;
  // Fields 2-5 are relative to the previous segment across lines; the column restarts per line.
  let sourceLine = 0;
  let sourceColumn = 0;
  map.mappings.split(";").forEach((line, lineIndex) => {
    let column = 0;
    for (const segment of line.split(",")) {
      if (segment === "") continue;
      const fields = decodeVlq(segment);
      column += fields[0];
      if (fields.length < 4) continue;
      source += fields[1];
      sourceLine += fields[2];
      sourceColumn += fields[3];
      const origin: Origin = { source: map.sources[source] };
      if (fields.length >= 5) {
        name += fields[4];
        origin.name = map.names[name];
      }
      origins.set(`${lineIndex}:${column}`, origin);
    }
  });
  return origins;
}

/**
 * A source's path as the hot-function list names it: relative to the
 * checkout `root` for the project's files, `@scope/package/file` for a
 * registry's (whichever registry served them). `mapUrl` is where the map
 * lies: its relative sources are resolved against it.
 */
export function sourceKey(source: string, mapUrl: string, root: string): string {
  const url = new URL(source, mapUrl);
  if (url.protocol !== "file:") {
    const registry = /\/(@[^/]+\/[^/]+)\/[^/]+\/(.*)$/.exec(url.pathname);
    return registry ? `${registry[1]}/${registry[2]}` : url.href;
  }
  const path = decodeURIComponent(url.pathname);
  const prefix = root.endsWith("/") ? root : `${root}/`;
  return path.startsWith(prefix) ? path.slice(prefix.length) : path;
}
