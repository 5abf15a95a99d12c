# The fediverse deployment's wiring: machines, provider, storage, buckets, keys, secrets,
# accounts, identity directory and health checks. It builds no system itself: `platform`
# does, from a description of each machine (its role and what fedi delivers to it).
#
#   import ./fediverse.nix { inherit resources; settings = import ./settings.nix;
#                            platform = import ./nixos { ... }; }
#
# platform.system SPEC       the machine's system (a derivation with
#                            bin/switch-to-configuration): NixOS in deployment.nix, small
#                            systems in fedi's test of this example
# platform.healthChecks SPEC the machine's healthChecks
#
# SPEC = { name; role ("garage", "mastodon", "peertube" or "pixelfed"); settings;
#          address (null until provisioned); disks; secretsDir; and, where they apply:
#          garage = { replication; rpcPublicAddr; rpcSecretFile; adminTokenFile; region;
#                     webDomain; };
#          s3 = { bucket; key; envFile; endpoint; region; publicHost; };
#          ldap = { host; port; method; base; bindDN; passwordFile; };
#          account (the accounts.<name> of the service's admin) }
{ resources, settings, platform }:
let
  secretsDir = "/var/lib/fedi/secrets";
  garageNodes = [ "garage-1" "garage-2" "garage-3" ];
  services = [ "mastodon" "peertube" "pixelfed" ];
  outputs = name: resources.machines.${name} or { };

  # Each service's bucket and the key that is delivered to it.
  buckets = {
    mastodon = { bucket = "mastodon-media"; quota = settings.mastodon.mediaQuota; };
    peertube = { bucket = "peertube-videos"; quota = settings.peertube.videosQuota; };
    pixelfed = { bucket = "pixelfed-media"; quota = settings.pixelfed.mediaQuota; };
  };
  accountOf = { mastodon = "mastodon-admin"; peertube = "peertube-root"; pixelfed = "pixelfed-admin"; };
  # Services with a bind account in the directory: Mastodon logs people in with it;
  # PeerTube's LDAP plugin is configured in its admin interface with the password fedi
  # delivers. Pixelfed has no LDAP login.
  ldapServices = [ "mastodon" "peertube" ];

  ldapUrl = builtins.match "(ldaps?)://([^:/]+)(:([0-9]+))?/?" settings.ldap.url;
  ldap = service: {
    host = builtins.elemAt ldapUrl 1;
    port = let p = builtins.elemAt ldapUrl 3; in
      if p != null then builtins.fromJSON p else if builtins.head ldapUrl == "ldaps" then 636 else 389;
    method = if builtins.head ldapUrl == "ldaps" then "simple_tls" else "start_tls";
    base = "ou=people,${settings.ldap.baseDN}";
    bindDN = "cn=${service},ou=services,${settings.ldap.baseDN}";
    passwordFile = "${secretsDir}/${service}-ldap";
  };

  spec = name: role: extra: {
    inherit name role settings secretsDir;
    address = (outputs name).host or null;
    disks = (outputs name).disks or [ ];
    garage = null; s3 = null; ldap = null; account = null;
  } // extra;

  garageSpec = name: spec name "garage" {
    garage = {
      replication = 3;
      # Before the VM exists its address is unknown; fedi evaluates again once it is.
      rpcPublicAddr = "${(outputs name).host or "0.0.0.0"}:3901";
      rpcSecretFile = "${secretsDir}/garage-rpc-secret";
      adminTokenFile = "${secretsDir}/garage-admin-token";
      inherit (settings.garage) region webDomain;
    };
  };

  serviceSpec = service: let b = buckets.${service}; in spec service service {
    s3 = {
      inherit (b) bucket;
      key = service;
      envFile = "${secretsDir}/${b.bucket}-${service}.env";
      endpoint = settings.garage.s3Endpoint;
      region = settings.garage.region;
      publicHost = "${b.bucket}.${settings.garage.webDomain}";
    };
    ldap = if builtins.elem service ldapServices then ldap service else null;
    account = accountOf.${service};
  };

  specs = map garageSpec garageNodes ++ map serviceSpec services;

  # A VM cloned from the template, with data disks on the same shared storage.
  vm = { cores, memory, disks }: {
    provider = "pve";
    inherit (settings.vm) template storage bridge ipConfig sshKeys;
    shared = true;
    inherit cores memory disks;
    diskSize = "32G";
  };
  provisionOf = {
    garage = vm { cores = 2; memory = 4096;
                  disks = [ { size = settings.garage.dataDiskSize; mount = "/var/lib/garage"; } ]; };
    mastodon = vm { cores = 4; memory = 8192;
                    disks = [ { size = "100G"; mount = "/var/lib/postgresql"; }
                              { size = "50G"; mount = "/var/lib/mastodon"; } ]; };
    peertube = vm { cores = 4; memory = 8192;
                    disks = [ { size = "100G"; mount = "/var/lib/postgresql"; }
                              { size = "200G"; mount = "/var/lib/peertube"; } ]; };
    pixelfed = vm { cores = 2; memory = 4096;
                    disks = [ { size = "100G"; mount = "/var/lib/postgresql"; }
                              { size = "50G"; mount = "/var/lib/pixelfed"; } ]; };
  };

  machine = s: {
    name = s.name;
    value = {
      provision = provisionOf.${s.role};
      ssh = settings.ssh;
      system = platform.system s;
      healthChecks = platform.healthChecks s;
      tags = if s.role == "garage" then [ "storage" ] else [ "fediverse" s.role ];
      protect = s.role == "garage";  # `fedi provision --destroy` refuses storage nodes
    };
  };

  secret = attrs: { owner = "root"; mode = "0400"; } // attrs;
in
{
  providers.pve = { type = "proxmox"; } // settings.proxmox;

  machines = builtins.listToAttrs (map machine specs);

  storage.garage = {
    type = "garage";
    machines = garageNodes;
    replication = 3;
    inherit (settings.garage) adminEndpoint adminTokenFile s3Endpoint region capacity;
    # One zone per node: each holds one copy of every object.
    nodes = builtins.listToAttrs (map (n: { name = n; value = { zone = n; }; }) garageNodes);
  } // (settings.garage.extra or { });

  buckets = builtins.listToAttrs (map
    (service: let b = buckets.${service}; in {
      name = b.bucket;
      value = {
        storage = "garage";
        quota.maxSize = b.quota;
        website = true;  # media are read by browsers at <bucket>.<webDomain>
        keys.${service} = { read = true; write = true; deliverTo = { machine = service; }; };
      };
    })
    services);

  # Files in /var/lib/fedi/secrets, root's and 0400: systemd reads them for the services
  # (EnvironmentFile=) before it drops privileges.
  secrets = {
    garage-rpc-secret = secret { machines = garageNodes; source.file = settings.garage.rpcSecretFile; };
    garage-admin-token = secret { machines = garageNodes; source.file = settings.garage.adminTokenFile; };
    # Laravel's APP_KEY (32 characters), made once and kept in fedi's state.
    pixelfed-app-key = secret { machine = "pixelfed"; environmentVariable = "APP_KEY";
                                source.generate.length = 32; };
  } // builtins.listToAttrs (map
    (service: {
      name = "${service}-ldap";
      value = secret ({
        machine = service;
        source.fromIdentity = { directory = "directory"; inherit service; };
      } // (if service == "mastodon" then { environmentVariable = "LDAP_PASSWORD"; } else { }));
    })
    ldapServices);

  accounts = {
    mastodon-admin = { machine = "mastodon"; service = "mastodon"; role = "Owner";
                       username = settings.mastodon.admin; email = settings.mastodon.email; };
    pixelfed-admin = { machine = "pixelfed"; service = "pixelfed";
                       username = settings.pixelfed.admin; email = settings.pixelfed.email; };
    peertube-root = { machine = "peertube"; service = "peertube"; };
  };

  identity.directory = {
    type = "ldap";
    inherit (settings.ldap) url caFile baseDN bindDN bindPasswordFile;
    users = settings.ldap.people;
    services = ldapServices;
  };
}
