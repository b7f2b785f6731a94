#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License (see LICENSE in the codexd repository)
"""Ansible module driving codexd (the Codex app-server daemon) on one host.

Owns nothing on disk itself: every change goes through the codexd CLI
(`deno run -A <entry> <command> --json`), which owns CODEX_HOME. The pure
decisions (what to run for a wanted state, whether a result changed
something, what the host looks like afterwards) are plain functions without
I/O, so they are table-tested without Ansible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: app_server
short_description: Manage the Codex app-server daemon with codexd
version_added: "0.1.0"
description:
  - Drives C(codexd) (C(deno run -A jsr:@codexd/daemon)) on the managed host to start, stop,
    restart or bootstrap the Codex app-server of one C(CODEX_HOME), and to apply its settings
    (remote control, auto-update, autostart).
  - Asks C(codexd status) first and runs only the commands needed to reach the wanted state, so a
    second run reports C(changed=false).
  - Check mode asks C(codexd status) only, reports what would change and changes nothing.
  - Diff mode shows the running state and settings before and after.
  - Written in Python, so the host needs nothing but Python and Deno; the controller needs no Deno.
author: codexd contributors
options:
  state:
    description:
      - C(started) starts the app-server when it is not running.
      - C(stopped) stops the app-server and the updater (C(codexd stop --all)).
      - C(restarted) always restarts the app-server (use C(serial) for a rolling restart).
      - C(bootstrapped) records settings, starts the app-server and the self-updating
        supervisor (C(codexd bootstrap)); it runs only when the host differs from what is asked
        (not running, updater not running, remote control, auto-update or codex binary differ).
    type: str
    choices: [started, stopped, restarted, bootstrapped]
    default: started
  codex_home:
    description:
      - The C(CODEX_HOME) to manage. C(~) expands on the managed host.
      - Default is codexd's, C($CODEX_HOME) of the session, else C(~/.codex).
    type: path
  remote_control:
    description:
      - Whether the app-server runs with remote control. Applied with
        C(codexd enable-remote-control) / C(disable-remote-control), which switch a running
        app-server live (a restart only for a release without the live methods, and never
        while turns run), or with C(bootstrap --remote-control) for C(state=bootstrapped).
      - codexd's warnings (for example no ChatGPT login, or no paired device yet) become
        Ansible warnings; the remote-control state is returned as RV(remote_control).
      - Unset leaves the recorded setting as it is (also for C(bootstrapped), which the module
        passes the current value explicitly).
      - C(true) is met only when the running app-server's remote control is not C(errored).
        Without a ChatGPT login (C(codex login) on the host) it is, and the task fails with
        C(REMOTE_CONTROL_UNAVAILABLE) and codexd's hint, on every run until the login is
        done (the module reruns C(enable-remote-control), which asks the server again). The
        failing run that persisted the setting reports C(changed=true).
    type: bool
  auto_update:
    description:
      - Whether the updater installs new codex releases (it supervises either way).
        Only applied with C(state=bootstrapped) (C(--no-auto-update) when false).
      - Unset keeps the recorded setting, else codexd's default (on, off for an external
        C(codex_bin)). C(true) together with C(codex_bin) is refused (codexd never updates an
        external binary).
    type: bool
  autostart:
    description:
      - Whether the app-server starts at boot, through C(codexd enable-autostart) /
        C(disable-autostart) (a systemd user unit). Hosts without a systemd user manager fail
        with C(AUTOSTART_UNAVAILABLE).
      - A host without the unit counts as C(false), so C(false) there runs nothing and check
        mode predicts C(changed=true) for C(true).
      - Unset leaves autostart alone.
    type: bool
  version:
    description:
      - The codex version this host runs (C(state=started) or C(bootstrapped)). With C(pin=true)
        (the default) it is pinned, C(codexd update --version X --pin) (or C(bootstrap --version X
        --pin) when the host is bootstrapped by this task), so the updater installs and runs
        exactly it, reinstalling it when removed. It runs only when the pin or the installed
        version differs, so C(changed) means the version or the pin changed.
      - A running app-server moves to it under codexd's turn-safety rule, at once when no turn
        runs, else when the last one ends (the pending-restart path, bounded by
        C(updater.restartDeadlineMinutes)); no running turn is killed.
      - With C(pin=false), the version to install when codex is missing (C(bootstrapped)); the
        updater then follows the latest.
    type: str
  pin:
    description:
      - Whether C(version) is pinned (see C(version)). C(false) drops a pin (C(codexd update
        --unpin)), so the updater follows the latest release again.
      - Ignored with an external C(codex_bin), which codexd never replaces.
    type: bool
    default: true
  install:
    description:
      - Install codex from npm when it is missing (C(state=bootstrapped) only,
        C(codexd bootstrap --install)).
    type: bool
    default: false
  codex_bin:
    description:
      - An externally owned codex binary to run instead of the managed one (C(--codex-bin));
        C(state=bootstrapped) records it. C(~) expands on the managed host.
    type: path
  entry:
    description:
      - The codexd module specifier passed to C(deno run -A), C(jsr:@codexd/daemon), an
        C(https://) URL, or a path to codexd's C(mod.ts) on the managed host.
    type: str
    default: jsr:@codexd/daemon
  deno:
    description:
      - Path to the deno binary on the managed host.
      - Default is found on the host, preferring a native binary over npm's Node wrapper
        (C(bin.cjs)), in this order, C(deno) on C(PATH), C(/usr/local/bin/deno),
        C(/usr/bin/deno), C(~/.deno/bin/deno), C(~/.cache/codexd-tools/node_modules/deno/deno)
        (where the codexd one-liner and the C(codexd.daemon.host) role install it), and
        C(lib/node_modules/deno/deno) under npm's global prefix.
    type: path
notes:
  - Supports check mode and diff mode.
  - Fails with the C(code), C(message) and C(hint) codexd reports, for example C(BINARY_MISSING)
    with the hint C(codexd bootstrap --install).
  - The C(codexd.daemon.host) role installs Deno from npm when it is missing and then runs this
    module.
"""

EXAMPLES = r"""
- name: Keep the app-server running
  codexd.daemon.app_server:
    state: started

- name: Supervised, self-updating app-server with remote control, installing codex if missing
  codexd.daemon.app_server:
    state: bootstrapped
    remote_control: true
    install: true

- name: Run exactly codex 0.169.0 (pinned; the updater keeps it there)
  codexd.daemon.app_server:
    state: bootstrapped
    version: 0.169.0

- name: Follow the latest release again
  codexd.daemon.app_server:
    state: started
    pin: false

- name: Rolling restart, one host at a time (put serial 1 on the play)
  codexd.daemon.app_server:
    state: restarted

- name: Run codexd from a checkout with a known deno
  codexd.daemon.app_server:
    state: started
    codex_home: ~/.codex
    entry: /opt/codexd/mod.ts
    deno: /usr/local/bin/deno
"""

RETURN = r"""
changed:
  description: Whether something changed on this host (codexd's own C(changed) when it reports
    one, else derived from C(status) before and the commands' results).
  returned: always
  type: bool
codexd:
  description: codexd's parsed JSON, of the last command run (of C(status) when nothing needed to
    run, or in check mode).
  returned: always
  type: dict
  sample: {"status": "started", "backend": "pid", "pid": 4242, "appServerVersion": "0.169.0"}
commands:
  description: The codexd commands run (in check mode, the ones that would run).
  returned: always
  type: list
  elements: str
  sample: ["start"]
remote_control:
  description: The remote-control state after the run, from codexd's JSON (null when codexd did
    not report it). C(status) is the app-server's own (C(connected), C(connecting), C(errored),
    C(disabled)); C(paired_clients) is the number of paired devices when a start or bootstrap
    counted them, else null.
  returned: always
  type: dict
  sample: {"enabled": true, "status": "connected", "connected": true, "paired_clients": 1}
results:
  description: codexd's parsed JSON of every command run, in order.
  returned: always
  type: list
  elements: dict
deno:
  description: The deno binary used.
  returned: when found
  type: str
  sample: /usr/local/bin/deno
code:
  description: codexd's error code (C(BINARY_MISSING), C(NOT_READY), ...), or the module's own
    C(DENO_MISSING), C(OUTPUT_INVALID).
  returned: failure
  type: str
  sample: BINARY_MISSING
hint:
  description: The next command to run, when codexd has one.
  returned: failure
  type: str
  sample: codexd bootstrap --install
msg:
  description: On failure, the failed command with codexd's code, message and hint.
  returned: failure
  type: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

STATES = ("started", "stopped", "restarted", "bootstrapped")

# Result statuses that mean the command changed the host; `already*` and
# `notRunning` mean it did not.
CHANGED_STATUSES = frozenset(
    ("started", "stopped", "restarted", "enabled", "disabled", "bootstrapped", "updated")
)

# codexd's exit code of `status` when the app-server is stopped (not a failure).
EXIT_STOPPED = 3

NATIVE_DENO_CANDIDATES = (
    "/usr/local/bin/deno",
    "/usr/bin/deno",
    "~/.deno/bin/deno",
    "~/.cache/codexd-tools/node_modules/deno/deno",
)


# --- pure decisions -------------------------------------------------------


def facts_of(status):
    """The comparable facts of a `codexd status` JSON object."""
    updater = status.get("updater") or {}
    # `autostart: null` is a host without the unit (off); a missing key is a
    # codexd too old to report it (unknown).
    autostart = status.get("autostart") if "autostart" in status else "unknown"
    if isinstance(autostart, dict):
        autostart = bool(autostart.get("enabled"))
    elif autostart is None:
        autostart = False
    remote = status.get("remoteControl")
    return {
        "running": status.get("status") == "running",
        "remoteControlEnabled": bool(status.get("remoteControlEnabled", False)),
        "updaterEnabled": bool(updater.get("enabled", False)),
        "updaterRunning": bool(updater.get("running", False)),
        "autoUpdateEnabled": bool(updater.get("autoUpdateEnabled", False)),
        "managedCodexPath": status.get("managedCodexPath"),
        # None when this codexd does not report autostart.
        "autostart": autostart if isinstance(autostart, bool) else None,
        # The running server's own view (`errored` without a ChatGPT login), or None.
        "remoteControlStatus": remote.get("status") if isinstance(remote, dict) else None,
        "pinnedVersion": pinned_version(status.get("pin")),
        "managedCodexVersion": status.get("managedCodexVersion"),
    }


def remote_control_errored(before, want):
    """Whether remote control is wanted and persisted, but the running server's is `errored`."""
    return (want.get("remote_control") is True and before["remoteControlEnabled"]
            and before["running"] and before.get("remoteControlStatus") == "errored")


def pinned_version(pin):
    """codexd's own pin from `status`'s `pin` object, else None."""
    if isinstance(pin, dict) and pin.get("by") == "codexd":
        return pin.get("version")
    return None


def version_steps(before, want):
    """The `update` run that pins (or unpins) the wanted version, if the host differs.

    Only the pin and the installed version decide, so a rerun changes nothing.
    """
    version = want.get("version")
    pin = want.get("pin") is not False
    if want.get("codex_bin") is not None:
        return []
    if version and pin:
        installed = before.get("managedCodexVersion")
        if before.get("pinnedVersion") != version or (
                installed is not None and installed != version):
            return [("update", ["--version", version, "--pin"])]
        return []
    if not pin and before.get("pinnedVersion") is not None:
        return [("update", ["--unpin"] + (["--version", version] if version else []))]
    return []


def plan(state, before, want):
    """The codexd commands that take a host with `before` facts to `state`.

    `want` holds the module's options (`remote_control`, `auto_update`,
    `autostart`, `codex_bin`, `install`, `version`, `pin`; None = leave alone).
    Returns a list of `(command, [args])`.
    """
    steps = []
    rc = want.get("remote_control")
    toggle = []
    if rc is not None and rc != before["remoteControlEnabled"]:
        toggle = [("enable-remote-control" if rc else "disable-remote-control", [])]
    elif remote_control_errored(before, want) and state != "stopped":
        # Not met while the server's remote control is errored: ask it again,
        # which fails with REMOTE_CONTROL_UNAVAILABLE and the hint (codex login).
        toggle = [("enable-remote-control", [])]

    if state == "started":
        steps += toggle
        if not before["running"]:
            steps.append(("start", []))
        steps += version_steps(before, want)
    elif state == "stopped":
        if before["running"] or before["updaterRunning"]:
            steps.append(("stop", ["--all"]))
        # Persisting the setting on a stopped server restarts nothing.
        steps += toggle
    elif state == "restarted":
        steps += toggle
        steps.append(("restart", []))
    elif state == "bootstrapped":
        args = bootstrap_args(before, want)
        if bootstrap_needed(before, want):
            steps.append(("bootstrap", args))
            if not (want.get("version") and want.get("pin") is not False):
                steps += version_steps(before, dict(want, version=None))
        else:
            if remote_control_errored(before, want):
                steps += toggle
            steps += version_steps(before, want)
    else:
        raise ValueError("unknown state %r" % (state,))

    autostart = want.get("autostart")
    if autostart is not None and before["autostart"] != autostart:
        steps.append(("enable-autostart" if autostart else "disable-autostart", []))
    return steps


def wanted_bootstrap_settings(before, want):
    """(remote control, auto-update or None for codexd's default) bootstrap must record."""
    rc = want.get("remote_control")
    if rc is None:
        rc = before["remoteControlEnabled"]
    auto_update = want.get("auto_update")
    if auto_update is None and before["updaterEnabled"]:
        auto_update = before["autoUpdateEnabled"]
    return rc, auto_update


def bootstrap_args(before, want):
    """The flags of `codexd bootstrap`, explicit so reruns record the same settings."""
    rc, auto_update = wanted_bootstrap_settings(before, want)
    args = []
    if rc:
        args.append("--remote-control")
    if auto_update is False:
        args.append("--no-auto-update")
    if want.get("install") or want.get("version"):
        args.append("--install")
    if want.get("version"):
        args += ["--version", want["version"]]
        if want.get("pin") is not False and want.get("codex_bin") is None:
            args.append("--pin")
    return args


def bootstrap_needed(before, want):
    """Whether the host differs from what `bootstrapped` asks."""
    rc, auto_update = wanted_bootstrap_settings(before, want)
    codex_bin = want.get("codex_bin")
    return (
        not before["running"]
        or not before["updaterEnabled"]
        or not before["updaterRunning"]
        or rc != before["remoteControlEnabled"]
        or (auto_update is not None and auto_update != before["autoUpdateEnabled"])
        or (codex_bin is not None and codex_bin != before["managedCodexPath"])
    )


def result_changed(command, result):
    """Whether one command's result changed the host: codexd's `changed` when present."""
    if isinstance(result.get("changed"), bool):
        return result["changed"]
    if command == "stop" and result.get("updaterStopped") is True:
        return True
    return result.get("status") in CHANGED_STATUSES


def predict_after(state, before, want):
    """The facts after reaching `state` (used for check mode and `--diff`)."""
    after = dict(before)
    rc = want.get("remote_control")
    if state == "bootstrapped":
        rc_b, auto_update = wanted_bootstrap_settings(before, want)
        after.update(running=True, updaterEnabled=True, updaterRunning=True,
                     remoteControlEnabled=rc_b)
        if auto_update is not None:
            after["autoUpdateEnabled"] = auto_update
        elif not before["updaterEnabled"]:
            after["autoUpdateEnabled"] = want.get("codex_bin") is None
        if want.get("codex_bin") is not None:
            after["managedCodexPath"] = want["codex_bin"]
    else:
        if rc is not None:
            after["remoteControlEnabled"] = rc
        if state == "stopped":
            after.update(running=False, updaterRunning=False)
        else:
            after["running"] = True
            if before["updaterEnabled"]:
                after["updaterRunning"] = True
    if want.get("autostart") is not None:
        after["autostart"] = want["autostart"]
    if state in ("started", "bootstrapped") and want.get("codex_bin") is None:
        if want.get("version") and want.get("pin") is not False:
            after.update(pinnedVersion=want["version"], managedCodexVersion=want["version"])
        elif want.get("pin") is False:
            after["pinnedVersion"] = None
    return after


def diff_view(facts):
    """The part of the facts `--diff` shows."""
    view = {
        "running": facts["running"],
        "remoteControlEnabled": facts["remoteControlEnabled"],
        "updater": {
            "enabled": facts["updaterEnabled"],
            "running": facts["updaterRunning"],
            "autoUpdateEnabled": facts["autoUpdateEnabled"],
        },
    }
    if facts["autostart"] is not None:
        view["autostart"] = facts["autostart"]
    if facts.get("pinnedVersion") is not None:
        view["pinnedVersion"] = facts["pinnedVersion"]
    return view


def validate(want):
    """A message when the options contradict each other, else None."""
    if want.get("auto_update") is True and want.get("codex_bin") is not None:
        return ("auto_update: true cannot apply to an external codex_bin: codexd never updates "
                "a binary it does not own; set auto_update: false or drop codex_bin")
    return None


def ignored_options(state, want):
    """Warnings for options that only `bootstrapped` applies."""
    if state == "bootstrapped":
        return []
    return ["%s applies only with state=bootstrapped; ignored with state=%s" % (name, state)
            for name in ("auto_update",)
            if want.get(name) is not None] + (
        ["version applies only with state=started or bootstrapped; ignored with state=%s" % state]
        if want.get("version") is not None and state != "started" else []) + (
        ["install applies only with state=bootstrapped; ignored with state=%s" % state]
        if want.get("install") else [])


def check_mode_changed(steps, before):
    """Whether check mode reports a change: any planned step, except re-asking an errored
    remote control (which changes nothing: a real run fails) and autostart steps on a codexd
    that does not report autostart (unknown)."""
    for command, _args in steps:
        if command in ("enable-autostart", "disable-autostart") and before["autostart"] is None:
            continue
        if command == "enable-remote-control" and before["remoteControlEnabled"]:
            continue
        return True
    return False


def failure_changed(command, result, before, changed):
    """`changed` of a failed run: what ran before, or a setting the failing command persisted
    (`enable-remote-control` without a login keeps the setting: `persisted: true`)."""
    if changed:
        return True
    if command in ("enable-remote-control", "disable-remote-control") and result:
        wanted = command == "enable-remote-control"
        return result.get("persisted") is True and before["remoteControlEnabled"] != wanted
    return False


def remote_control_problem(want, result):
    """A failure message when remote control is wanted but the server's view is `errored`."""
    if want.get("remote_control") is not True or not isinstance(result, dict):
        return None
    remote = result.get("remoteControl")
    if not isinstance(remote, dict) or remote.get("status") != "errored":
        return None
    reason = result.get("remoteControlReason") or "the app-server reports remote control errored"
    return ("remote control is enabled but the app-server reports it errored (%s); run "
            "codex login on the host, then rerun" % reason)


def error_message(command, result):
    """`msg` of a failed codexd command."""
    text = "codexd %s failed: %s: %s" % (
        command, result.get("code", "UNKNOWN"), result.get("message", "(no message)"))
    if result.get("hint"):
        text += " (hint: %s)" % result["hint"]
    return text


def is_elf(path):
    """Whether `path` is a native executable (not npm's Node wrapper script)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except (IOError, OSError):
        return False


def executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def deno_candidates(path_env, npm_prefix=None):
    """Where to look for deno, in order (before `~` expansion)."""
    found = []
    for directory in (path_env or "").split(os.pathsep):
        if directory:
            found.append(os.path.join(directory, "deno"))
    found += list(NATIVE_DENO_CANDIDATES)
    if npm_prefix:
        found.append(os.path.join(npm_prefix, "lib", "node_modules", "deno", "deno"))
    return found


def choose_deno(candidates, is_native, is_executable, realpath):
    """The first native deno among `candidates`, else the first runnable wrapper, else None.

    npm's `deno` command is a symlink to `bin.cjs` (a Node script); the native
    binary sits beside it in the package, so a wrapper's sibling `deno` counts.
    """
    wrapper = None
    for candidate in candidates:
        if not is_executable(candidate):
            continue
        if is_native(candidate):
            return candidate
        sibling = os.path.join(os.path.dirname(realpath(candidate)), "deno")
        if is_executable(sibling) and is_native(sibling):
            return sibling
        if wrapper is None:
            wrapper = candidate
    return wrapper


# --- I/O -------------------------------------------------------------------


def find_deno(module):
    candidates = [os.path.expanduser(c) for c in deno_candidates(os.environ.get("PATH"))]
    expand = lambda path: os.path.realpath(os.path.expanduser(path))  # noqa: E731
    found = choose_deno(candidates, is_elf, executable, expand)
    if found and is_elf(found):
        return found
    # Only now ask npm (a Node start-up) for its global prefix.
    npm = module.get_bin_path("npm")
    if npm:
        rc, out, _err = module.run_command([npm, "prefix", "-g"])
        if rc == 0 and out.strip():
            extra = os.path.join(out.strip(), "lib", "node_modules", "deno", "deno")
            if executable(extra) and is_elf(extra):
                return extra
    return found


def parse_json(stdout):
    """The last non-empty stdout line parsed as a JSON object, else None."""
    lines = [line for line in (stdout or "").splitlines() if line.strip()]
    if not lines:
        return None
    try:
        value = json.loads(lines[-1])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class Codexd:
    """Runs codexd commands on this host and parses their JSON."""

    def __init__(self, module, deno, entry, codex_home, codex_bin):
        self.module = module
        self.deno = deno
        self.entry = entry
        self.codex_home = codex_home
        self.codex_bin = codex_bin

    def run(self, command, args=()):
        argv = [self.deno, "run", "-A", self.entry, command] + list(args) + ["--json"]
        if self.codex_home:
            argv += ["--codex-home", self.codex_home]
        if self.codex_bin and command in ("start", "restart", "bootstrap", "status",
                                          "enable-remote-control", "disable-remote-control"):
            argv += ["--codex-bin", self.codex_bin]
        rc, out, err = self.module.run_command(argv, environ_update={"NO_COLOR": "1"})
        return rc, parse_json(out), out, err


def fail(module, command, rc, result, stdout, stderr, **extra):
    if result is None:
        module.fail_json(
            msg="codexd %s printed no JSON (exit %s): %s" % (
                command, rc, (stderr or stdout or "").strip()[-2000:]),
            code="OUTPUT_INVALID", hint=None, rc=rc, stdout=stdout, stderr=stderr, **extra)
    module.fail_json(msg=error_message(command, result), code=result.get("code"),
                     hint=result.get("hint"), codexd=result, rc=rc, **extra)


def remote_control_state(result, fallback=None):
    """The remote-control facts of a codexd result (else of `fallback`), or None."""
    for source in (result, fallback or {}):
        view = source.get("remoteControl")
        enabled = source.get("remoteControlEnabled")
        if isinstance(view, dict) or enabled is not None:
            view = view if isinstance(view, dict) else {}
            return {
                "enabled": enabled if enabled is not None else bool(view),
                "status": view.get("status"),
                "connected": view.get("status") == "connected",
                "paired_clients": view.get("pairedClients"),
            }
    return None


def codexd_warnings(results):
    """codexd's `warnings` of every result, in order, without repeats."""
    seen = []
    for result in results:
        for warning in result.get("warnings") or []:
            if isinstance(warning, str) and warning not in seen:
                seen.append(warning)
    return seen


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=list(STATES), default="started"),
            codex_home=dict(type="path"),
            remote_control=dict(type="bool"),
            auto_update=dict(type="bool"),
            autostart=dict(type="bool"),
            version=dict(type="str"),
            pin=dict(type="bool", default=True),
            install=dict(type="bool", default=False),
            codex_bin=dict(type="path"),
            entry=dict(type="str", default="jsr:@codexd/daemon"),
            deno=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    want = dict((key, params[key]) for key in (
        "remote_control", "auto_update", "autostart", "codex_bin", "install", "version", "pin"))
    problem = validate(want)
    if problem:
        module.fail_json(msg=problem, code="USAGE", hint=None)

    for note in ignored_options(params["state"], want):
        module.warn(note)

    deno = params["deno"] or find_deno(module)
    if not deno or not executable(deno):
        module.fail_json(
            msg="Cannot find deno on this host (%s)" % (deno or "searched PATH, " + ", ".join(
                NATIVE_DENO_CANDIDATES) + ", npm's global prefix"),
            code="DENO_MISSING",
            hint="npm install --prefix ~/.cache/codexd-tools deno (or use the codexd.daemon.host role)")
    codexd = Codexd(module, deno, params["entry"], params["codex_home"], params["codex_bin"])

    rc, status, out, err = codexd.run("status")
    if status is None or rc not in (0, EXIT_STOPPED) or status.get("status") == "error":
        fail(module, "status", rc, status, out, err, deno=deno)
    before = facts_of(status)
    state = params["state"]
    steps = plan(state, before, want)
    after = predict_after(state, before, want)
    diff = {"before": diff_view(before), "after": diff_view(after)}
    commands = [" ".join([command] + args) for command, args in steps]
    if module.check_mode and want["autostart"] is not None and before["autostart"] is None:
        module.warn("this codexd's status does not report autostart; "
                    "check mode cannot tell whether it would change")

    if module.check_mode:
        if remote_control_errored(before, want) and state != "stopped":
            module.warn("remote control is errored on the running app-server (no ChatGPT "
                        "login?); a real run fails with REMOTE_CONTROL_UNAVAILABLE")
        module.exit_json(changed=check_mode_changed(steps, before), codexd=status,
                         commands=commands, results=[], deno=deno, diff=diff,
                         remote_control=remote_control_state(status))

    results = []
    changed = False
    last = status
    for command, args in steps:
        rc, result, out, err = codexd.run(command, args)
        if result is None or rc != 0 or result.get("status") == "error":
            fail(module, command, rc, result, out, err,
                 changed=failure_changed(command, result, before, changed), commands=commands,
                 results=results, deno=deno)
        results.append(result)
        changed = result_changed(command, result) or changed
        last = result
    problem = remote_control_problem(want, last) if state != "stopped" else None
    if problem:
        module.fail_json(msg=problem, code="REMOTE_CONTROL_UNAVAILABLE",
                         hint="codex login, then rerun", codexd=last, changed=changed,
                         commands=commands, results=results, deno=deno)
    if not changed:
        diff = {"before": diff_view(before), "after": diff_view(before)}
    for warning in codexd_warnings(results):
        module.warn("codexd: " + warning)
    module.exit_json(changed=changed, codexd=last, commands=commands, results=results,
                     deno=deno, diff=diff, remote_control=remote_control_state(last, status))


if __name__ == "__main__":
    main()
