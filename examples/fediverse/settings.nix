# What an operator edits: where Proxmox, Garage and the LDAP directory are, the files on
# the deployer that hold their credentials (never their contents: fedi reads them when it
# needs them, and they never reach the Nix store), the template to clone, the domains and
# who administers the services. Everything else is in fediverse.nix.
{
  # nixpkgs for the NixOS systems: <nixpkgs> from NIX_PATH, or pin one, e.g.
  #   nixpkgs = builtins.fetchTarball {
  #     url = "https://github.com/NixOS/nixpkgs/archive/<commit>.tar.gz"; sha256 = "...";
  #   };
  # or a checkout (nixpkgs = /srv/nixpkgs;), or (flakes enabled in nix.conf)
  #   nixpkgs = (builtins.getFlake "github:NixOS/nixpkgs/<commit>").outPath;
  nixpkgs = <nixpkgs>;
  system = "x86_64-linux";

  # providers.pve: the Proxmox VE cluster's API.
  proxmox = {
    endpoint = "https://pve1.example.net:8006";
    node = "pve1";
    tokenFile = "/run/keys/pve-token";      # one line: USER@REALM!TOKENID=SECRET
    caFile = "/etc/ssl/pve-root-ca.pem";    # the cluster's CA (pve-root-ca.pem)
  };

  # How every VM is made: a full clone of a NixOS template (built with nixpkgs'
  # virtualisation/proxmox-image.nix: cloud-init and the QEMU guest agent) on shared
  # storage, so that a VM can move between nodes.
  vm = {
    template = 9000;
    storage = "linstor";
    bridge = "vmbr0";
    ipConfig = "ip=dhcp";
    sshKeys = [ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyReplaceMe ops@example.net" ];
  };

  # How fedi reaches the machines once they exist (their address and host key come from
  # Proxmox). Without identityFile fedi uses ssh-agent, then ~/.ssh/id_ed25519 or id_rsa;
  # a file named here must exist on the deployer.
  ssh = { };  # e.g. { identityFile = "/home/ops/.ssh/fedi_deploy"; }

  garage = {
    # Garage's admin API (port 3903 on the nodes) and S3 API (3900), behind TLS: fedi sends
    # the admin token and receives keys' secrets there, so plain http is refused.
    adminEndpoint = "https://garage-admin.example.net";
    s3Endpoint = "https://s3.example.net";
    webDomain = "web.example.net";          # buckets served as <bucket>.web.example.net
    region = "garage";
    adminTokenFile = "/run/keys/garage-admin-token";  # `openssl rand -base64 32`
    rpcSecretFile = "/run/keys/garage-rpc-secret";    # `openssl rand -hex 32`, made once
    capacity = "1T";                        # each node's share of the layout
    dataDiskSize = "1100G";
  };

  # The identity directory (an existing OpenLDAP): people log in to Mastodon with it.
  ldap = {
    url = "ldaps://ldap.example.net:636";
    caFile = "/etc/ssl/ldap-ca.pem";
    baseDN = "dc=example,dc=net";
    bindDN = "cn=admin,dc=example,dc=net";
    bindPasswordFile = "/run/keys/ldap-admin";
    people = {
      alice = { email = "alice@example.net"; displayName = "Alice Example"; };
    };
  };

  # The services, their admins and their buckets' quotas.
  mastodon = { domain = "social.example.net"; admin = "owner"; email = "admin@example.net";
               mediaQuota = "500G"; };
  peertube = { domain = "video.example.net"; email = "admin@example.net"; videosQuota = "2T"; };
  pixelfed = { domain = "photos.example.net"; admin = "boss"; email = "admin@example.net";
               mediaQuota = "500G"; };
  acmeEmail = "hostmaster@example.net";     # Let's Encrypt account for the web front ends
}
