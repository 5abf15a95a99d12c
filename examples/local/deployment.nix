# What fedi is for, on one Linux machine with no infrastructure (`scripts/demo`): four
# local machines that `fedi deploy` creates itself (the `container` provider with systemd
# as PID 1: each machine has its own address, /var, /run, /tmp and Nix store), and on them
#   s3     a real Ceph RGW (monitor, OSD, radosgw as systemd units, Debian's packages; the
#          OSD keeps objects in memory, saved when it stops: a killed machine loses them);
#          fedi makes a bucket and a key per service there and delivers each key to the
#          service's machine as /var/lib/fedi/secrets/<bucket>-<key>.env
#   ldap   an OpenLDAP directory (slapd as a unit) that fedi fills: a person and the
#          services' bind accounts
#   web    "Mastodon": at start it stores and reads back an object with its bucket key and
#          binds to the directory as its bind account; its admin command (a stand-in of
#          mastodon-tootctl) gets the admin account fedi declares
#   video  "PeerTube": the same with its own bucket and key; its first start makes root
#          from the password fedi delivered, which fedi then changes and keeps
# Health checks gate each machine: a failing one rolls it back.
#
# fedi converges identity directories and RGW storage before it deploys any machine, so
# the machines that run them come first, from bootstrap.nix (this deployment without what
# needs them running): scripts/demo runs
#   fedi -f bootstrap.nix deploy --on @infrastructure   then   fedi deploy
# The credentials fedi uses there (the RGW admin keys, the directory's admin password) are
# files on the deployer, in .demo/, made by scripts/demo and delivered to the machines as
# secrets; .demo/ldap-ca.pem is the directory's CA certificate, read from the ldap machine
# once it runs (over SSH, its host key pinned). Systems are small, built without nixpkgs
# (resources/systemd-test-system.nix with resources/demo-units.nix).
#
# The deployment is a function of `resources`: once a machine is provisioned, its
# outputs (address, port, host key) are there, so one machine's system can name another.
{ resources, ... }:
let
  mkSystem = import ../../resources/systemd-test-system.nix;
  units = import ../../resources/demo-units.nix { };
  address = name: (resources.machines.${name} or { host = "not-provisioned-yet"; }).host;
  secret = file: "/var/lib/fedi/secrets/${file}";
  suffix = "dc=example,dc=org";
  ldapUrl = "ldaps://${address "ldap"}";
  machine = attrs: {
    provision.provider = "local";
  } // attrs;
  # A service machine: its S3 key and directory bind password (delivered by fedi) used
  # by units at start; health checks see that those units run.
  service = name: extraUnits: machine {
    tags = [ "fediverse" ];
    after = [ "s3" "ldap" ];
    system = mkSystem {
      inherit name;
      extraUnits = units.adminTools ++ extraUnits
        ++ units.ldapCheck {
          url = ldapUrl;
          caFile = secret "ldap-ca.pem";
          bindDN = "cn=${name},ou=services,${suffix}";
          passwordFile = secret "ldap-bind-password";
        };
    };
    healthChecks = [
      { command = "systemctl is-active demo-s3-check.service demo-ldap-check.service"; }
      { http = "http://${address name}:8080/health"; expectStatus = 200; }
    ];
  };
in
{
  providers.local = { type = "container"; systemd = true; };

  machines.s3 = machine {
    tags = [ "infrastructure" ];
    system = mkSystem {
      name = "s3";
      extraUnits = units.rgw {
        address = address "s3";
        accessKeyFile = secret "rgw-admin-access-key";
        secretKeyFile = secret "rgw-admin-secret-key";
      };
    };
    healthChecks = [
      { command = "systemctl is-active ceph-demo-radosgw.service ceph-demo-admin-user.service"; }
      { http = "http://${address "s3"}:7480/"; expectStatus = 200; }
    ];
  };

  machines.ldap = machine {
    tags = [ "infrastructure" ];
    system = mkSystem {
      name = "ldap";
      extraUnits = units.slapd {
        address = address "ldap";
        inherit suffix;
        adminPasswordFile = secret "ldap-admin-password";
      };
    };
    healthChecks = [{
      command = "LDAPTLS_CACERT=/var/lib/slapd-demo/tls/ca.pem ldapsearch -LLL -x -H ${ldapUrl} -s base -b '' namingContexts";
    }];
  };

  machines.web = service "web" (units.s3Check {
    machine = "web";
    keyFile = secret "mastodon-media-mastodon.env";
  });

  machines.video = service "video" (units.s3Check {
    machine = "video";
    keyFile = secret "peertube-videos-peertube.env";
  } ++ units.peertube { environmentFile = secret "account-peertube-root.env"; });

  # The credentials fedi needs on the deployer, delivered to the machines that check them.
  secrets.rgw-admin-access-key = { machine = "s3"; source.file = ./.demo/rgw-admin-access-key; };
  secrets.rgw-admin-secret-key = { machine = "s3"; source.file = ./.demo/rgw-admin-secret-key; };
  secrets.ldap-admin-password = { machine = "ldap"; source.file = ./.demo/ldap-admin-password; };
  # Not secret, but delivered the same way: the directory's CA for the services.
  secrets.ldap-ca = {
    machines = [ "web" "video" ];
    name = "ldap-ca.pem";
    mode = "0444";
    allowWorldReadable = true;
    source.file = ./.demo/ldap-ca.pem;
  };
  secrets.web-ldap = {
    machine = "web";
    name = "ldap-bind-password";
    source.fromIdentity = { directory = "directory"; service = "web"; };
  };
  secrets.video-ldap = {
    machine = "video";
    name = "ldap-bind-password";
    source.fromIdentity = { directory = "directory"; service = "video"; };
  };

  # Plain http on the machines' private links: fedi says so on every command.
  storage.rgw = {
    type = "rgw";
    s3Endpoint = "http://${address "s3"}:7480";
    allowInsecureHttp = true;
    accessKeyFile = ./.demo/rgw-admin-access-key;
    secretKeyFile = ./.demo/rgw-admin-secret-key;
  };
  buckets.mastodon-media = {
    storage = "rgw";
    keys.mastodon = { read = true; write = true; deliverTo.machine = "web"; };
  };
  buckets.peertube-videos = {
    storage = "rgw";
    keys.peertube = { read = true; write = true; deliverTo.machine = "video"; };
  };

  identity.directory = {
    type = "ldap";
    url = ldapUrl;
    caFile = ./.demo/ldap-ca.pem;
    baseDN = suffix;
    bindDN = "cn=admin,${suffix}";
    bindPasswordFile = ./.demo/ldap-admin-password;
    users.alice = { email = "alice@example.org"; displayName = "Alice Example"; };
    services = [ "web" "video" ];
  };

  accounts.mastodon-admin = {
    machine = "web";
    service = "mastodon";
    username = "owner";
    email = "owner@example.org";
    role = "Owner";
  };
  accounts.peertube-root = { machine = "video"; service = "peertube"; };
}
