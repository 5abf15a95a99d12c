# The platform of the real deployment: each machine's system is a NixOS configuration
# (common.nix plus its role's file), evaluated with the given nixpkgs.
{ nixpkgs, system ? "x86_64-linux" }:
let
  nixos = spec: import "${nixpkgs}/nixos/lib/eval-config.nix" {
    inherit system;
    modules = [ ./common.nix (./. + "/${spec.role}.nix") ];
    # The machine's description (see ../fediverse.nix) reaches the modules as `machine`.
    specialArgs = { machine = spec; };
  };
  https = host: path: {
    http = "https://${host}${path}"; expectStatus = 200; attempts = 30; interval = 5; timeout = 10;
  };
  active = units: { command = "systemctl is-active ${builtins.concatStringsSep " " units}"; attempts = 12; interval = 5; };
  checks = {
    garage = spec: [ (active [ "garage.service" "fedi-garage-node-id.service" ]) ];
    mastodon = spec: [ (active [ "mastodon-web.service" "mastodon-sidekiq-all.service" ])
                       (https spec.settings.mastodon.domain "/health") ];
    peertube = spec: [ (active [ "peertube.service" ])
                       (https spec.settings.peertube.domain "/api/v1/config") ];
    pixelfed = spec: [ (active [ "phpfpm-pixelfed.service" "pixelfed-horizon.service" ])
                       (https spec.settings.pixelfed.domain "/api/nodeinfo/2.0.json") ];
  };
in
{
  system = spec: (nixos spec).config.system.build.toplevel;
  healthChecks = spec: checks.${spec.role} spec;
}
