# PeerTube wired to fedi's account management (accounts.<name> with service = "peertube"):
# - root's initial password reaches the service through its EnvironmentFile,
#   /var/lib/fedi/secrets/account-<name>.env (PT_INITIAL_ROOT_PASSWORD=...), which fedi
#   writes before activation; PeerTube reads it at its very first start only;
# - `peertube-reset-password` (which nixpkgs does not ship) runs PeerTube's
#   dist/scripts/reset-password.js as the peertube user; fedi calls it as
#   `peertube-env 'peertube-reset-password -u root'` with the password on stdin.
#
#   imports = [ ./resources/nixos/peertube.nix ];
#   fedi.peertube = { enable = true; account = "peertube-root"; };
#
# PeerTube's LDAP login is a plugin (peertube-plugin-auth-ldap) configured in its admin
# interface, i.e. in its database: not wired here.
# Not evaluated by fedi's tests (they run without nixpkgs).
{ config, lib, pkgs, ... }:
let
  cfg = config.fedi.peertube;
  pt = config.services.peertube;
  resetPassword = pkgs.writeShellScriptBin "peertube-reset-password" ''
    if [ "$(id -u)" = 0 ]; then
      exec ${pkgs.util-linux}/bin/runuser -u ${pt.user} -- "$0" "$@"
    fi
    cd ${pt.package}
    exec ${pkgs.nodejs}/bin/node dist/scripts/reset-password.js "$@"
  '';
in
{
  options.fedi.peertube = {
    enable = lib.mkEnableOption "fedi's management of PeerTube's root account";
    account = lib.mkOption {
      type = lib.types.str;
      description = "The name of the accounts.<name> entry for this PeerTube's root.";
    };
  };

  config = lib.mkIf cfg.enable {
    services.peertube.serviceEnvironmentFile = "/var/lib/fedi/secrets/account-${cfg.account}.env";
    environment.systemPackages = [ resetPassword ];
  };
}
