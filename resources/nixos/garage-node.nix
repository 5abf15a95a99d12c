# A Garage node managed by fedi (NixOS module). fedi joins the nodes and applies the
# layout through the admin API; this module runs Garage and writes the node's id where
# `fedi deploy` reads it (/var/lib/fedi/garage/node-id, "<node id>@<rpc address>").
#
#   imports = [ fedi/resources/nixos/garage-node.nix ];
#   fedi.garage = { enable = true; rpcPublicAddr = "10.0.0.11:3901";
#                   rpcSecretFile = "/var/lib/fedi/secrets/garage-rpc-secret";
#                   adminTokenFile = "/var/lib/fedi/secrets/garage-admin-token"; };
{ config, lib, pkgs, ... }:
let
  cfg = config.fedi.garage;
in
{
  options.fedi.garage = {
    enable = lib.mkEnableOption "a Garage storage node managed by fedi";
    package = lib.mkOption { type = lib.types.package; default = pkgs.garage; };
    replicationFactor = lib.mkOption {
      type = lib.types.int; default = 3;
      description = "Must equal storage.<name>.replication in the deployment.";
    };
    rpcPublicAddr = lib.mkOption { type = lib.types.str; example = "10.0.0.11:3901"; };
    rpcSecretFile = lib.mkOption {
      type = lib.types.str;
      description = "File with the cluster's shared RPC secret (64 hex digits), not in the store.";
    };
    adminTokenFile = lib.mkOption {
      type = lib.types.str;
      description = "File with the admin API token fedi uses, not in the store.";
    };
    s3Region = lib.mkOption { type = lib.types.str; default = "garage"; };
    dataDir = lib.mkOption { type = lib.types.str; default = "/var/lib/garage/data"; };
    metadataDir = lib.mkOption { type = lib.types.str; default = "/var/lib/garage/meta"; };
  };

  config = lib.mkIf cfg.enable {
    services.garage = {
      enable = true;
      package = cfg.package;
      settings = {
        replication_factor = cfg.replicationFactor;
        rpc_bind_addr = "[::]:3901";
        rpc_public_addr = cfg.rpcPublicAddr;
        rpc_secret_file = cfg.rpcSecretFile;
        data_dir = cfg.dataDir;
        metadata_dir = cfg.metadataDir;
        s3_api = { api_bind_addr = "[::]:3900"; s3_region = cfg.s3Region; };
        admin = { api_bind_addr = "[::]:3903"; admin_token_file = cfg.adminTokenFile; };
      };
    };
    networking.firewall.allowedTCPPorts = [ 3900 3901 3903 ];

    # `garage node id` once Garage answers, for fedi's layout step.
    systemd.services.fedi-garage-node-id = {
      description = "Record the Garage node id for fedi";
      after = [ "garage.service" ];
      requires = [ "garage.service" ];
      wantedBy = [ "multi-user.target" ];
      path = [ cfg.package ];
      serviceConfig = { Type = "oneshot"; RemainAfterExit = true; };
      script = ''
        mkdir -p /var/lib/fedi/garage
        for i in $(seq 1 30); do
          if id=$(garage node id -q 2>/dev/null); then
            printf '%s\n' "$id" > /var/lib/fedi/garage/node-id.tmp
            mv /var/lib/fedi/garage/node-id.tmp /var/lib/fedi/garage/node-id
            exit 0
          fi
          sleep 1
        done
        echo "garage did not answer" >&2
        exit 1
      '';
    };
  };
}
