# Mastodon's LDAP login pointed at a fedi identity directory (identity.<name>), with the
# bind password from the secret fedi delivers, never from the Nix store:
#
#   secrets.mastodon-ldap = { machine = "web"; environmentVariable = "LDAP_PASSWORD";
#     source.fromIdentity = { directory = "directory"; service = "mastodon"; }; };
#
#   imports = [ ./resources/nixos/mastodon-ldap.nix ];
#   fedi.mastodon.ldap = { enable = true; host = "ldap.example.org";
#     base = "ou=people,dc=example,dc=org";
#     bindDN = "cn=mastodon,ou=services,dc=example,dc=org"; };
#
# Mastodon reads LDAP_* from its environment (config/initializers/devise.rb); the
# password file is one more EnvironmentFile of its units (services.mastodon.extraEnvFiles).
# Not evaluated by fedi's tests (they run without nixpkgs).
{ config, lib, ... }:
let
  cfg = config.fedi.mastodon.ldap;
in
{
  options.fedi.mastodon.ldap = {
    enable = lib.mkEnableOption "Mastodon's LDAP login against a fedi identity directory";
    host = lib.mkOption { type = lib.types.str; description = "LDAP server host name."; };
    port = lib.mkOption { type = lib.types.port; default = 636; };
    method = lib.mkOption {
      type = lib.types.enum [ "simple_tls" "start_tls" ];
      default = "simple_tls"; # ldaps://; start_tls for ldap:// with StartTLS
    };
    base = lib.mkOption { type = lib.types.str; description = "Where people are (ou=people,...)."; };
    bindDN = lib.mkOption { type = lib.types.str; description = "The service's bind account (cn=mastodon,ou=services,...)."; };
    uid = lib.mkOption { type = lib.types.str; default = "uid"; };
    mail = lib.mkOption { type = lib.types.str; default = "mail"; };
    searchFilter = lib.mkOption { type = lib.types.str; default = "(|(%{uid}=%{email})(%{mail}=%{email}))"; };
    passwordFile = lib.mkOption {
      type = lib.types.str;
      default = "/var/lib/fedi/secrets/mastodon-ldap";
      description = "Environment file with LDAP_PASSWORD=..., delivered by fedi (a string, not a path: it must not be copied into the store).";
    };
  };

  config = lib.mkIf cfg.enable {
    services.mastodon.extraConfig = {
      LDAP_ENABLED = "true";
      LDAP_HOST = cfg.host;
      LDAP_PORT = toString cfg.port;
      LDAP_METHOD = cfg.method;
      LDAP_BASE = cfg.base;
      LDAP_BIND_DN = cfg.bindDN;
      LDAP_UID = cfg.uid;
      LDAP_MAIL = cfg.mail;
      LDAP_SEARCH_FILTER = cfg.searchFilter;
    };
    services.mastodon.extraEnvFiles = [ cfg.passwordFile ];
  };
}
