"""examples/fediverse, the deployment a hosting provider starts from.

nixpkgs is not available here, so the example's NixOS systems cannot be built. The
example keeps its wiring (fediverse.nix: machines, provider, storage, buckets, keys,
secrets, accounts, identity, health checks) apart from the systems (a `platform`), so:

- RealExample evaluates the real deployment.nix and settings.nix with `fedi eval`, with a
  stand-in nixpkgs whose nixos/lib/eval-config.nix returns small systems and records what
  the example's NixOS modules say (their imports and fedi.* settings), which must match
  what fedi delivers (file names, buckets, keys, accounts, disks);
- EndToEnd deploys the same wiring with small systems (resources/minimal-system.nix) in
  place of NixOS: `fedi deploy` clones six VMs on the Proxmox test server (whose guests
  are real sshd test hosts), joins the three Garage nodes of the Garage test server with
  replication 3, makes the buckets and keys and delivers them, fills the real slapd, and
  creates the admin accounts with the services' stand-in admin commands on the VMs. The
  small systems do at activation what the services would do at start: read their key
  files and secrets (activation fails without them), write Garage's node id, start
  PeerTube with the initial root password.
"""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import unittest

import fedi_testlib as lib
import leakcheck
import storage_testlib as slib
from pve_fixture import VM_SSH_PORT, PveWithGuests

EXAMPLE = lib.SOURCE_DIR / "examples" / "fediverse"
SLAPD = lib.SOURCE_DIR / "test" / "servers" / "ldap" / "slapd"
STANDINS = lib.SOURCE_DIR / "test" / "standins"
GARAGE = ["garage-1", "garage-2", "garage-3"]
SERVICES = ["mastodon", "peertube", "pixelfed"]
BUCKETS = {"mastodon": "mastodon-media", "peertube": "peertube-videos", "pixelfed": "pixelfed-media"}
SECRETS = "/var/lib/fedi/secrets"

# nixos/lib/eval-config.nix of a stand-in nixpkgs: a small system per machine, carrying
# (as `summary`) each module's imports and fedi.* settings, evaluated without nixpkgs.
STANDIN_EVAL_CONFIG = """
{ system, modules, specialArgs }:
let
  machine = specialArgs.machine;
  args = { config = { }; lib = { }; pkgs = { }; modulesPath = "/nixpkgs/nixos/modules";
           inherit machine; };
  load = m: let v = import m; in if builtins.isFunction v then v args else v;
  summary = map (m: let v = load m; in {
    file = toString m;
    imports = map toString (v.imports or [ ]);
    fedi = v.fedi or { };
  }) modules;
in {
  config.system.build.toplevel =
    import @MINIMAL@ { name = machine.name; message = "standin nixpkgs"; } // { inherit summary; };
}
"""

# The platform of the end-to-end test: small systems that do at activation what the real
# services do when they start.
SMALL_SYSTEMS = """
{ nodeIds }:
let
  mk = import @MINIMAL@;
  standins = derivation {
    name = "fedi-service-standins";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    PATH = "/usr/bin:/bin";
    src = builtins.path { path = @STANDINS@; name = "standins-src";
                          filter = p: t: baseNameOf p != "__pycache__"; };
    args = [ "-c" "mkdir -p $out/bin && cp $src/* $out/bin/ && chmod 0555 $out/bin/*" ];
  };
  # NixOS puts the system's sw/bin on PATH; the test hosts read /root/.bashrc.
  onPath = ''
    grep -qx 'export PATH=/run/current-system/sw/bin:$PATH' /root/.bashrc 2>/dev/null ||
      echo 'export PATH=/run/current-system/sw/bin:$PATH' >> /root/.bashrc
  '';
  need = file: "test -s ${file} || { echo 'missing ${file}' >&2; exit 1; }\\n";
  start = {
    garage = s: need s.garage.rpcSecretFile + need s.garage.adminTokenFile + ''
      mkdir -p /var/lib/fedi/garage
      echo '${nodeIds.${s.name}}' > /var/lib/fedi/garage/node-id
    '';
    # The S3 key as the service's EnvironmentFile gives it.
    service = s: onPath + need s.s3.envFile + ''
      ( . ${s.s3.envFile}; test "$S3_BUCKET" = ${s.s3.bucket} && test -n "$AWS_SECRET_ACCESS_KEY" ) ||
        { echo 'bad key file ${s.s3.envFile}' >&2; exit 1; }
    '' + (if s.ldap != null then need s.ldap.passwordFile else "");
    mastodon = s: start.service s + "grep -q '^LDAP_PASSWORD=' ${s.ldap.passwordFile}\\n";
    peertube = s: start.service s + ''
      /run/current-system/sw/bin/peertube-standin-start \\
        --environment-file ${s.secretsDir}/account-${s.account}.env >> /var/lib/peertube-journal.log 2>&1
    '';
    pixelfed = s: start.service s + need "${s.secretsDir}/pixelfed-app-key";
  };
in {
  system = s: mk {
    name = s.name;
    message = "${s.role} ${s.name} at ${toString s.address}"
      + (if s.garage != null then " rpc ${s.garage.rpcPublicAddr}" else "");
    packages = if s.role == "garage" then [ ] else [ standins ];
    onActivate = start.${s.role} s;
  };
  healthChecks = s: [ { command = "/run/current-system/bin/health-check"; } ];
}
"""


def nix_eval(expr, env=None):
    r = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "--expr", expr],
                       capture_output=True, text=True, env=env or lib.nix_env(), timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"nix-instantiate failed:\n{r.stderr}")
    return json.loads(r.stdout)


class RealExample(unittest.TestCase):
    """The example's own files, with a stand-in nixpkgs."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="fedi-fediverse-eval-"))
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.nixpkgs = cls.tmp / "nixpkgs"
        lib.write_file(cls.nixpkgs / "nixos" / "lib" / "eval-config.nix",
                       STANDIN_EVAL_CONFIG.replace("@MINIMAL@", lib.nix_path(lib.MINIMAL_SYSTEM)))
        os.makedirs(cls.tmp / "home")
        cls.env = lib.isolated_env(cls.tmp / "home")
        cls.env["NIX_PATH"] = f"nixpkgs={cls.nixpkgs}"

    def fedi_eval(self, env):
        return lib.run_fedi(["-f", EXAMPLE / "deployment.nix", "--state", self.tmp / "state.json",
                             "eval"], cwd=self.tmp, env=env)

    def test_every_file_parses(self):
        files = sorted(EXAMPLE.rglob("*.nix"))
        self.assertGreaterEqual(len(files), 9, files)
        for f in files:
            r = subprocess.run(["nix-instantiate", "--parse", str(f)], capture_output=True, text=True,
                               env=self.env, timeout=60)
            self.assertEqual(r.returncode, 0, f"{f}: {r.stderr}")

    def test_model_of_the_real_example(self):
        had_state_dir = (EXAMPLE / ".fedi").exists()  # an operator's try of the example
        r = self.fedi_eval(self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse((self.tmp / "state.json").exists())  # eval writes no state
        self.assertEqual((EXAMPLE / ".fedi").exists(), had_state_dir)
        m = json.loads(r.stdout)
        self.assertEqual(m["warnings"], [])  # no plain http, no unchecked TLS
        self.assertEqual(sorted(m["machines"]), sorted(GARAGE + SERVICES))
        self.assertEqual(m["providers"]["pve"]["endpoint"], "https://pve1.example.net:8006")
        for name, machine in m["machines"].items():
            p = machine["provision"]
            self.assertEqual((p["provider"], p["type"]), ("pve", "proxmox"), name)
            s = p["settings"]
            self.assertEqual((s["template"], s["storage"], s["shared"], s["full"]),
                             (9000, "linstor", True, True), name)
            self.assertTrue(s["sshKeys"], name)
            self.assertTrue(machine["system"]["drvPath"].endswith(f"nixos-system-{name}-1.drv"))
            checks = machine["healthChecks"]
            self.assertTrue(any(c.get("command", "").startswith("systemctl is-active ") for c in checks),
                            checks)
            if name in SERVICES:  # and the public front end, from the deployer
                self.assertTrue(any(c.get("http", "").startswith("https://") for c in checks), checks)
            mounts = [d["mount"] for d in s["disks"]]
            if name in GARAGE:
                self.assertEqual(mounts, ["/var/lib/garage"])
                self.assertTrue(machine["protect"])
            else:
                self.assertEqual(mounts, ["/var/lib/postgresql", f"/var/lib/{name}"])
                self.assertIn(name, machine["tags"])
        garage = m["storage"]["garage"]
        self.assertEqual((garage["type"], garage["replication"], garage["allowInsecureHttp"]),
                         ("garage", 3, False))
        self.assertEqual([n["machine"] for n in garage["nodes"]], GARAGE)
        self.assertEqual(len({n["zone"] for n in garage["nodes"]}), 3)
        self.assertEqual(sorted(m["buckets"]), sorted(BUCKETS.values()))
        for service, bucket in BUCKETS.items():
            b = m["buckets"][bucket]
            self.assertEqual(list(b["keys"]), [service])
            self.assertEqual([d["machine"] for d in b["keys"][service]["deliverTo"]], [service])
            self.assertTrue(b["website"])
        self.assertEqual({n: (a["service"], a["machine"]) for n, a in m["accounts"].items()},
                         {"mastodon-admin": ("mastodon", "mastodon"),
                          "peertube-root": ("peertube", "peertube"),
                          "pixelfed-admin": ("pixelfed", "pixelfed")})
        d = m["identity"]["directory"]
        self.assertEqual(sorted(d["services"]), ["mastodon", "peertube"])
        self.assertEqual(list(d["users"]), ["alice"])
        self.assertEqual(sorted(m["secrets"]), ["garage-admin-token", "garage-rpc-secret",
                                                "mastodon-ldap", "peertube-ldap", "pixelfed-app-key"])

    def test_without_nixpkgs_only_the_systems_are_missing(self):
        env = dict(self.env, NIX_PATH="")
        r = self.fedi_eval(env)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("nixpkgs", r.stderr)
        # Everything but the systems evaluates without nixpkgs.
        expr = f"""
          let d = import {lib.nix_path(EXAMPLE / "deployment.nix")} {{ resources = {{ }}; }};
          in d // {{ machines = builtins.mapAttrs (n: m: removeAttrs m [ "system" ]) d.machines; }}"""
        model = nix_eval(expr, env)
        self.assertEqual(sorted(model["machines"]), sorted(GARAGE + SERVICES))

    def test_nixos_modules_say_what_fedi_delivers(self):
        # Provisioned outputs as the Proxmox provider reports them.
        resources = {"machines": {
            n: {"host": f"10.0.0.{i + 11}", "port": 22,
                "disks": [{"name": "data1", "serial": "fedi-data1", "mount": "/var/lib/x"}]}
            for i, n in enumerate(GARAGE + SERVICES)}}
        expr = f"""
          let d = import {lib.nix_path(EXAMPLE / "deployment.nix")} {{
                resources = builtins.fromJSON {lib.nix_string(json.dumps(resources))}; }};
          in {{ summary = builtins.mapAttrs (n: m: m.system.summary) d.machines;
               inherit (d) secrets accounts buckets; }}"""
        got = nix_eval(expr, self.env)
        for name, modules in got["summary"].items():
            # every module file exists, and so does every file it imports (but nixpkgs')
            for module in modules:
                self.assertTrue(os.path.exists(module["file"]), module)
                for imported in module["imports"]:
                    if not imported.startswith("/nixpkgs/"):
                        self.assertTrue(os.path.exists(imported), f"{module['file']}: {imported}")
            common, role = modules
            self.assertEqual(common["fedi"]["dataDisks"], resources["machines"][name]["disks"])
            files = {f"{SECRETS}/{s.get('name', n)}" for n, s in got["secrets"].items()
                     if name in ([s["machine"]] if "machine" in s else s["machines"])}
            if name in GARAGE:
                g = role["fedi"]["garage"]
                self.assertTrue(g["enable"])
                self.assertEqual(g["replicationFactor"], 3)
                self.assertEqual(g["rpcPublicAddr"], resources["machines"][name]["host"] + ":3901")
                self.assertLessEqual({g["rpcSecretFile"], g["adminTokenFile"]}, files)
                continue
            s3 = role["fedi"]["s3"][name]
            bucket = got["buckets"][s3["bucket"]]
            self.assertEqual(bucket["keys"][s3["key"]]["deliverTo"]["machine"], name)
            if name == "mastodon":
                self.assertIn(role["fedi"]["mastodon"]["ldap"]["passwordFile"], files)
                self.assertEqual(role["fedi"]["mastodon"]["ldap"]["bindDN"],
                                 "cn=mastodon,ou=services,dc=example,dc=net")
            if name == "peertube":
                account = got["accounts"][role["fedi"]["peertube"]["account"]]
                self.assertEqual((account["service"], account["machine"]), ("peertube", "peertube"))


class EndToEnd(unittest.TestCase):
    """The example's wiring with small systems, against the Proxmox and Garage test
    servers and a real slapd."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="fedi-fediverse-"))
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.pve = PveWithGuests()
        cls.addClassCleanup(cls.stop_pve)
        cls.garage = slib.GarageServer("--nodes", "3", "--isolated", "--replication-factor", "3")
        cls.addClassCleanup(cls.garage.stop)
        ldap_dir = cls.tmp / "ldap"
        r = subprocess.run([str(SLAPD), "start", "--dir", str(ldap_dir)], capture_output=True,
                           text=True, timeout=90)
        cls.addClassCleanup(subprocess.run, [str(SLAPD), "stop", "--dir", str(ldap_dir)], timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"slapd start failed: {r.stderr}")
        cls.ldap = json.loads(r.stdout)
        os.makedirs(cls.tmp / "home")
        cls.env = lib.isolated_env(cls.tmp / "home")
        cls.key = cls.tmp / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(cls.key)], check=True)
        cls.rpc_secret = lib.write_file(cls.tmp / "garage-rpc-secret", os.urandom(32).hex() + "\n", 0o600)
        cls.dir = cls.tmp / "deployment"
        cls.write_deployment()

    @classmethod
    def stop_pve(cls):
        errors = cls.pve.close()
        if errors:
            raise AssertionError("Proxmox test server stderr:\n" + errors)

    @classmethod
    def write_deployment(cls):
        node_ids = {m: f"{n['id']}@{n['addr']}" for m, n in zip(GARAGE, cls.garage.info["nodes"])}
        lib.write_file(cls.dir / "small-systems.nix", SMALL_SYSTEMS
                       .replace("@MINIMAL@", lib.nix_path(lib.MINIMAL_SYSTEM))
                       .replace("@STANDINS@", lib.nix_path(STANDINS)))
        provider = cls.pve.provider()
        del provider["type"]
        pubkey = (cls.tmp / "id_ed25519.pub").read_text().strip()
        # The real settings, with this machine's servers and credentials in their place.
        overrides = {
            "proxmox": provider,
            "vm": lib.Nix(f"real.vm // {{ sshKeys = [ {lib.nix_string(pubkey)} ]; }}"),
            "ssh": {"identityFile": str(cls.key), "port": VM_SSH_PORT},
            "garage": lib.Nix("real.garage // " + lib.to_nix({
                "adminEndpoint": cls.garage.endpoint, "adminTokenFile": cls.garage.token_file,
                "rpcSecretFile": str(cls.rpc_secret), "s3Endpoint": "http://127.0.0.1:3900",
                "extra": {"allowInsecureHttp": True, "healthTimeout": 10}})),  # plain http here
            "ldap": lib.Nix("real.ldap // " + lib.to_nix({
                k: cls.ldap[k if k != "url" else "ldapsUrl"]
                for k in ("url", "caFile", "baseDN", "bindDN", "bindPasswordFile")})),
        }
        lib.write_file(cls.dir / "deployment.nix", f"""{{ resources, ... }}:
let real = import {lib.nix_path(EXAMPLE / "settings.nix")}; in
import {lib.nix_path(EXAMPLE / "fediverse.nix")} {{
  inherit resources;
  settings = real // {lib.to_nix(overrides, 1)};
  platform = import ./small-systems.nix {{ nodeIds = {lib.to_nix(node_ids, 1)}; }};
}}
""")

    def fedi_json(self, *args):
        """fedi --json ARGS in the deployment's directory: (the run, its JSON)."""
        r = lib.run_fedi(["--json", *args], cwd=self.dir, env=self.env)
        self.assertTrue(r.stdout.startswith("{"), f"fedi {args}: no JSON (exit {r.returncode}):\n{r.stderr}")
        return r, json.loads(r.stdout)

    def vmid(self, name):
        state = json.loads((self.dir / ".fedi" / "state.json").read_text())
        return int(state["provisioned"][name]["id"])

    def on(self, name, *cmd, input=None):
        """Run cmd in the guest behind machine name's VM (not over SSH)."""
        guest = self.pve.hook_dir / f"vm-{self.vmid(name)}"
        r = subprocess.run([str(lib.TESTHOSTS), "exec", "--dir", str(guest), "vm1", "--", *cmd],
                           capture_output=True, text=True, input=input, timeout=60,
                           stdin=None if input is not None else subprocess.DEVNULL)
        return r

    def read(self, name, path):
        r = self.on(name, "cat", path)
        self.assertEqual(r.returncode, 0, f"{name}:{path}: {r.stderr}")
        return r.stdout

    def test_01_eval_of_the_wiring_with_small_systems(self):
        r, m = self.fedi_json("eval")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(m["machines"]), sorted(GARAGE + SERVICES))
        self.assertEqual(m["storage"]["garage"]["replication"], 3)
        self.assertEqual(sorted(m["buckets"]), sorted(BUCKETS.values()))
        self.assertEqual(len(m["accounts"]), 3)
        self.assertEqual(m["identity"]["directory"]["url"], self.ldap["ldapsUrl"])
        # The test servers' plain http, allowed and warned about; nothing else.
        self.assertEqual([w["path"] for w in m["warnings"]],
                         ["storage.garage.adminEndpoint", "storage.garage.s3Endpoint"])

    def test_02_deploy_everything(self):
        store = leakcheck.StoreMarker()
        with leakcheck.PsSampler() as ps:
            r, doc = self.fedi_json("deploy")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        output = r.stdout + r.stderr
        secrets = [self.rpc_secret.read_text().strip(), self.garage.token]
        self.assertEqual({m["name"]: m["result"] for m in doc["machines"]},
                         {n: "deployed" for n in GARAGE + SERVICES})

        # Six VMs cloned from the template on Linstor, with their data disks.
        vms = self.pve.vms()
        for name in GARAGE + SERVICES:
            config = vms[self.vmid(name)]["config"]
            self.assertEqual(config["name"], name)
            self.assertTrue(config["scsi0"].startswith("linstor:vm-"), config["scsi0"])
            disks = [config[k] for k in ("virtio1", "virtio2") if k in config]
            self.assertEqual(len(disks), 1 if name in GARAGE else 2, config)
            self.assertTrue(all(d.startswith("linstor:") for d in disks), disks)
            message = self.read(name, "/run/current-system/etc/fedi-test/message")
            host = json.loads((self.dir / ".fedi" / "state.json").read_text()
                              )["provisioned"][name]["outputs"]["host"]
            self.assertIn(f" at {host}", message)  # the system was made with its own address

        # Garage: three nodes in three zones, replication 3; a bucket and key per service.
        cluster = self.garage.state()["cluster"]
        self.assertEqual(cluster["replicationFactor"], 3)
        roles = cluster["layout"]["roles"]
        self.assertEqual(sorted(r["tags"][0] for r in roles.values()), GARAGE)
        self.assertEqual(len({r["zone"] for r in roles.values()}), 3)
        self.assertEqual(cluster["health"]["status"], "healthy")
        for name in GARAGE:
            self.assertEqual(self.read(name, f"{SECRETS}/garage-rpc-secret"), self.rpc_secret.read_text())
            self.assertEqual(self.read(name, f"{SECRETS}/garage-admin-token").strip(), self.garage.token)
        keys = self.garage.keys()
        for service, bucket in BUCKETS.items():
            b = self.garage.bucket(bucket)
            self.assertIsNotNone(b, bucket)
            self.assertTrue(b["websiteAccess"])
            env = slib.read_env_file(self.read(service, f"{SECRETS}/{bucket}-{service}.env"))
            self.assertEqual(env["S3_BUCKET"], bucket)
            key = keys[env["AWS_ACCESS_KEY_ID"]]
            self.assertEqual(key["secretAccessKey"], env["AWS_SECRET_ACCESS_KEY"])
            self.assertEqual({p["id"]: p["permissions"] for p in key["buckets"]},
                             {b["id"]: {"read": True, "write": True, "owner": False}})
            secrets.append(env["AWS_SECRET_ACCESS_KEY"])

        # The directory: alice and the services' bind accounts; Mastodon's bind password
        # on its machine binds.
        base = self.ldap["baseDN"]
        self.assertEqual({i["dn"]: i["result"] for i in doc["identity"]},
                         {f"uid=alice,ou=people,{base}": "created",
                          f"cn=mastodon,ou=services,{base}": "created",
                          f"cn=peertube,ou=services,{base}": "created"})
        password = self.read("mastodon", f"{SECRETS}/mastodon-ldap").strip().split("=", 1)[1]
        secrets.append(password)
        pw_file = lib.write_file(self.tmp / "mastodon-bind", password, 0o600)
        bind = subprocess.run(["ldapwhoami", "-x", "-H", self.ldap["ldapsUrl"], "-D",
                               f"cn=mastodon,ou=services,{base}", "-y", str(pw_file)],
                              capture_output=True, text=True, timeout=30,
                              env=dict(os.environ, LDAPTLS_CACERT=self.ldap["caFile"]))
        self.assertEqual(bind.returncode, 0, bind.stderr)

        # The admin accounts, made with each service's admin command on its machine.
        self.assertEqual({a["name"]: a["result"] for a in doc["accounts"]},
                         {"mastodon-admin": "created", "peertube-root": "created",
                          "pixelfed-admin": "created"})
        for name, (machine, user) in {"mastodon-admin": ("mastodon", "owner"),
                                      "pixelfed-admin": ("pixelfed", "boss"),
                                      "peertube-root": ("peertube", "root")}.items():
            r, shown = self.fedi_json("account", "show", name, "--reveal")
            self.assertEqual(r.returncode, 0, r.stderr)
            check = self.on(machine, "/run/current-system/sw/bin/standin", "check-password", machine, user,
                            input=shown["password"])
            self.assertEqual(check.returncode, 0, f"{name}: {check.stderr}")
            secrets.append(shown["password"])

        # No secret in the deployer's Nix store, in a process's arguments or in fedi's output.
        new_paths = store.new_paths()
        self.assertTrue(new_paths)  # the small systems were built
        self.assertGreater(ps.count("deployer"), 5)
        for secret in secrets:
            self.assertGreaterEqual(len(secret), 16)
            self.assertIsNone(leakcheck.grep_paths(new_paths, secret))
            self.assertIsNone(ps.find(secret))
            self.assertNotIn(secret, output)

    def test_03_rerun_changes_nothing(self):
        before = len(self.pve.requests())
        self.garage.clear_requests()
        r, doc = self.fedi_json("deploy")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual({m["name"]: m["result"] for m in doc["machines"]},
                         {n: "unchanged" for n in GARAGE + SERVICES})
        self.assertEqual([q for q in self.pve.requests(before) if q["method"] != "GET"], [])
        self.assertEqual(slib.mutating_requests(self.garage), [])
        self.assertEqual({a["result"] for a in doc["accounts"]}, {"exists"})
        self.assertEqual({i["result"] for i in doc["identity"]}, {"exists"})


if __name__ == "__main__":
    unittest.main()
