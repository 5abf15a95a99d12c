# A small NixOS-like system for the systemd test machines (test/hosts/testhosts
# --systemd), built without nixpkgs: plain derivations whose builder is the build
# machine's /bin/sh (Nix runs with sandbox = false there). Like a NixOS system it carries
# systemd units and a switch-to-configuration that behaves as NixOS's does where fedi
# depends on it:
#   - it links /run/current-system (switch, test) and the machine's
#     /etc/systemd/system to the system's units (the system's `activate`, which the
#     machine also runs when it boots from the system profile, as NixOS's stage 2 does);
#   - it stops the running units the new system no longer has or changed, reloads
#     systemd, restarts changed units marked X-StopIfChanged=false (sshd.service, as
#     NixOS's sshd is), starts multi-user.target and the units it stopped;
#   - it exits 4 when a unit failed (NixOS: "warning: the following units failed"),
#     3 when systemd could not reload, 0 otherwise.
#
#   import ./systemd-test-system.nix { name = "web"; version = "2"; }
#
# Arguments:
#   name          host name; part of the store name ("nixos-system-web-2")
#   version       change it to get a new system; the units carry it, so each new version
#                 restarts sshd.service and fedi-test-web.service
#   webStatus     the HTTP status fedi-test-web.service answers GET /health with
#   webPort       the port it listens on (all addresses of the machine)
#   failUnit      the system has fedi-test-broken.service, which fails to start: the
#                 switch exits 4
#   breakSsh      the system has no sshd.service: the switch stops sshd, the operator is
#                 locked out
#   sshdKillMode  KillMode of sshd.service: "process" (NixOS's) keeps open sessions when
#                 sshd restarts; "control-group" ends every session, fedi's too
#   delay         seconds the switch sleeps before it changes anything
#   extraUnits    more units, [ { name = "x.service"; text = "..."; } ], each wanted by
#                 multi-user.target (the demo's systems: resources/demo-units.nix)
#
# On the target, switch-to-configuration works under /var/lib/fedi-test:
#   activations.log        one line per run: "<UTC time> <goal> <out path> <cgroup>", the
#                          cgroup being the one switch-to-configuration ran in (fedi's
#                          activation runs under systemd-run: a fedi-activate-*.service),
#                          plus " FAILED <status>" when the run failed
#   boot-system            (switch, boot) the system the machine boots next
#   delay-next-activation  seconds the next switch/test sleeps (removed when used)
# It refuses to run anywhere but on a testhosts systemd machine: it replaces
# /etc/systemd/system, which is the machine's own only there.
{ name
, version ? "1"
, webStatus ? 200
, webPort ? 8080
, failUnit ? false
, breakSsh ? false
, sshdKillMode ? "process"
, delay ? 0
, extraUnits ? [ ]
, system ? builtins.currentSystem or "x86_64-linux"
}:
let
  build = drvName: script: env: derivation ({
    name = drvName;
    inherit system;
    builder = "/bin/sh";
    args = [ "-c" script ];
    PATH = "/usr/bin:/bin";
  } // env);

  # A unit as NixOS makes one: a store directory holding a file of the unit's own name
  # (systemd takes a link to a differently named file for an alias). Its store path
  # changes only with its text, which is how switch-to-configuration sees a change.
  unit = unitName: text: build "unit-${unitName}" ''
    mkdir -p $out && printf '%s' "$text" > "$out/$unitName"
  '' { inherit unitName text; };

  # The HTTP service that health checks call: GET /health answers webStatus with the
  # system's name and version. It tells systemd it is ready once it listens.
  webServer = build "fedi-test-web-1" ''
    mkdir -p $out/bin
    printf '%s' "$script" > $out/bin/fedi-test-web
    chmod 0555 $out/bin/fedi-test-web
  '' {
    script = ''
      #!/usr/bin/python3
      import http.server, os, socket, sys
      port, status, body = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] + "\n"
      class Handler(http.server.BaseHTTPRequestHandler):
          def do_GET(self):
              data = body.encode() if self.path == "/health" else b"not found\n"
              self.send_response(status if self.path == "/health" else 404)
              self.send_header("Content-Length", str(len(data)))
              self.end_headers()
              self.wfile.write(data)
          def log_message(self, *args):
              pass
      server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)
      notify = os.environ.get("NOTIFY_SOCKET")
      if notify:
          s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
          s.sendto(b"READY=1", "\0" + notify[1:] if notify.startswith("@") else notify)
      print(f"listening on port {port}, answering {status}", flush=True)
      server.serve_forever()
    '';
  };

  label = "fedi test system ${name} ${version}";

  sshdUnit = unit "sshd.service" ''
    [Unit]
    Description=OpenSSH server (${label})
    [Service]
    Type=notify
    RuntimeDirectory=sshd
    ExecStart=/usr/sbin/sshd -D -f /etc/ssh/sshd_config
    KillMode=${sshdKillMode}
    Restart=always
    # As NixOS's sshd: restarted in place when it changed, not stopped first.
    X-StopIfChanged=false
  '';

  webUnit = unit "fedi-test-web.service" ''
    [Unit]
    Description=fedi test web service (${label})
    [Service]
    Type=notify
    NotifyAccess=main
    ExecStart=${webServer}/bin/fedi-test-web ${toString webPort} ${toString webStatus} '${name} ${version}'
  '';

  brokenUnit = unit "fedi-test-broken.service" ''
    [Unit]
    Description=a unit that fails to start (${label})
    [Service]
    Type=oneshot
    RemainAfterExit=yes
    ExecStart=/bin/sh -c 'echo "fedi-test-broken: failing on purpose" >&2; exit 1'
  '';

  units = [ webUnit ] ++ (if breakSsh then [ ] else [ sshdUnit ])
    ++ (if failUnit then [ brokenUnit ] else [ ])
    ++ map (u: unit u.name u.text) extraUnits;

  activateScript = ''
    #!/bin/sh
    # activate of a fedi test system (resources/systemd-test-system.nix): links the
    # machine's units and /run/current-system to this system.
    set -eu
    out=''${1:-@out@}
    if [ ! -d /etc/systemd/testhost ]; then
      echo "error: $out needs a testhosts systemd machine (no /etc/systemd/testhost here)" >&2
      exit 1
    fi
    ln -sfn "$out/etc/systemd/system" /etc/systemd/.system.tmp
    mv -fT /etc/systemd/.system.tmp /etc/systemd/system
    ln -sfn "$out" /run/.current-system.tmp
    mv -fT /run/.current-system.tmp /run/current-system
    [ -e /run/booted-system ] || ln -sfn "$out" /run/booted-system
  '';

  switchScript = ''
    #!/bin/sh
    # switch-to-configuration of a fedi test system (resources/systemd-test-system.nix)
    set -u
    out=@out@
    goal=''${1:-}
    state=/var/lib/fedi-test
    case "$goal" in
      switch|boot|test|dry-activate) ;;
      *) echo "usage: $0 switch|boot|test|dry-activate" >&2; exit 1 ;;
    esac
    if [ ! -d /etc/systemd/testhost ] || [ ! -d /run/systemd/system ]; then
      echo "error: $out needs a testhosts systemd machine with systemd running" >&2
      exit 1
    fi
    mkdir -p "$state"
    log() {
      printf '%s %s %s %s%s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$goal" "$out" \
        "$(sed -n 's/^0:://p' /proc/self/cgroup)" "$1" >> "$state/activations.log"
    }
    echo "activating the configuration $out ($goal) on $(uname -n)..."
    old=/etc/systemd/system
    new=$out/etc/systemd/system
    # Running services that are the machine's (in its /etc/systemd/system): those gone
    # from the new system are stopped; changed ones restarted (X-StopIfChanged=false)
    # or stopped now and started after the reload.
    stop="" restart="" start=""
    for u in $(systemctl list-units --type=service --state=active,activating --no-legend --plain | cut -d' ' -f1); do
      [ -e "$old/$u" ] || continue
      if [ ! -e "$new/$u" ]; then
        stop="$stop $u"
      elif [ "$(readlink -f "$old/$u")" != "$(readlink -f "$new/$u")" ]; then
        if grep -q '^X-StopIfChanged=false' "$new/$u"; then restart="$restart $u"
        else stop="$stop $u"; start="$start $u"; fi
      fi
    done
    if [ "$goal" = dry-activate ]; then
      echo "would stop:$stop; would restart:$restart; would start:$start multi-user.target"
      log ""
      exit 0
    fi
    if [ -e "$state/delay-next-activation" ]; then
      d=$(cat "$state/delay-next-activation"); rm -f "$state/delay-next-activation"
      echo "waiting $d s before activating" >&2
      sleep "$d"
    fi
    if [ "${toString delay}" != 0 ]; then sleep ${toString delay}; fi
    case "$goal" in switch|boot)
      printf '%s\n' "$out" > "$state/boot-system.tmp" && mv -f "$state/boot-system.tmp" "$state/boot-system"
      echo "updated the boot entry to $out" >&2 ;;
    esac
    if [ "$goal" = boot ]; then log ""; exit 0; fi
    res=0
    if [ -n "$stop" ]; then
      echo "stopping the following units:$stop" >&2
      systemctl stop $stop
    fi
    "$out/activate" "$out" || res=2
    systemctl reset-failed
    systemctl daemon-reload || res=3
    if [ -n "$restart" ]; then
      echo "restarting the following units:$restart" >&2
      systemctl restart $restart || res=4
    fi
    echo "starting the following units:$start multi-user.target" >&2
    systemctl start $start multi-user.target || res=4
    failed=$(systemctl list-units --state=failed --no-legend --plain | cut -d' ' -f1 | tr '\n' ' ')
    if [ -n "$failed" ]; then
      echo "warning: the following units failed: $failed" >&2
      for u in $failed; do systemctl status --no-pager "$u" >&2; done
      res=4
    fi
    if [ "$res" != 0 ]; then log " FAILED $res"; else log ""; fi
    exit $res
  '';
in
build "nixos-system-${name}-${version}" ''
  set -e
  mkdir -p $out/bin $out/etc/systemd/system/multi-user.target.wants
  printf '%s\n' "$version" > $out/nixos-version
  printf '%s\n' "$system" > $out/system
  printf '%s\n' "$hostName" > $out/etc/hostname
  for u in $units; do
    for f in $u/*; do
      ln -s $f $out/etc/systemd/system/
      ln -s $f $out/etc/systemd/system/multi-user.target.wants/
    done
  done
  printf '%s' "$switchScript" | sed "s|@out@|$out|g" > $out/bin/switch-to-configuration
  printf '%s' "$activateScript" | sed "s|@out@|$out|g" > $out/activate
  chmod 0555 $out/bin/switch-to-configuration $out/activate
'' {
  hostName = name;
  inherit version units switchScript activateScript;
}
