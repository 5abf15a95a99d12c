# A NixOS module that makes the deployment's binary cache one of the machine's own
# substituters, for what it builds or fetches outside fedi's deploys (nixos-rebuild,
# nix-shell). fedi's deploys do not need it: they name the cache and its key on the
# command line of the `nix-store --realise` they run as root.
#
#   machines.web.system = (import <nixpkgs/nixos> { configuration = {
#     imports = [ ./resources/nixos/binary-cache.nix ];
#     fedi.binaryCache = { url = "https://cache.example.org"; publicKey = "fleet-1:…"; };
#   }; }).config.system.build.toplevel;
#
# The URL is what the machines fetch from (an http(s) URL of a public-read bucket or of
# the storage's website endpoint); the key is the deployment's `cache.publicKey`.
{ config, lib, ... }:
let
  cfg = config.fedi.binaryCache;
in
{
  options.fedi.binaryCache = {
    url = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      description = "The deployment's binary cache, as the machine reaches it (null: none).";
    };
    publicKey = lib.mkOption {
      type = lib.types.str;
      default = "";
      description = "The public key its narinfos are signed with (\"name:base64\").";
    };
  };

  config = lib.mkIf (cfg.url != null) {
    assertions = [{
      assertion = builtins.match "[^:]+:[A-Za-z0-9+/=]+" cfg.publicKey != null;
      message = "fedi.binaryCache.publicKey must be the cache's public key (\"name:base64\")";
    }];
    nix.settings.extra-substituters = [ cfg.url ];
    nix.settings.extra-trusted-public-keys = [ cfg.publicKey ];
  };
}
