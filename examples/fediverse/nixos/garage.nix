# A Garage storage node (fedi's garage-node module). fedi delivers the RPC secret and the
# admin token to /var/lib/fedi/secrets, joins the three nodes and applies the layout.
{ lib, machine, ... }:
let g = machine.garage; in
{
  imports = [ ../../../resources/nixos/garage-node.nix ];

  fedi.garage = {
    enable = true;
    replicationFactor = g.replication;
    inherit (g) rpcPublicAddr rpcSecretFile adminTokenFile;
    s3Region = g.region;
    # On the data disk (mounted at /var/lib/garage by common.nix).
    dataDir = "/var/lib/garage/data";
    metadataDir = "/var/lib/garage/meta";
  };

  # Buckets with website access are served as <bucket>.<webDomain> (behind the TLS
  # front end that also serves the S3 and admin endpoints).
  services.garage.settings.s3_web = {
    bind_addr = "[::]:3902";
    root_domain = ".${g.webDomain}";
  };
  networking.firewall.allowedTCPPorts = [ 3902 ];

  # nixpkgs runs Garage with a dynamic user, which cannot read the secret files fedi
  # writes (root's, 0400, which Garage's permission check accepts).
  systemd.services.garage.serviceConfig.DynamicUser = false;
}
