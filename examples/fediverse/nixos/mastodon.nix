# Mastodon with its media in Garage (fedi's s3-services module, the key in
# /var/lib/fedi/secrets/mastodon-media-mastodon.env) and its LDAP login against the
# identity directory (mastodon-ldap module, the bind password delivered by fedi).
{ lib, machine, ... }:
let s = machine.settings.mastodon; in
{
  imports = [
    ../../../resources/nixos/s3-services.nix
    ../../../resources/nixos/mastodon-ldap.nix
  ];

  services.mastodon = {
    enable = true;
    localDomain = s.domain;
    configureNginx = true;
    streamingProcesses = 2;
    smtp.fromAddress = s.email;
  };
  networking.firewall.allowedTCPPorts = [ 80 443 ];

  fedi.s3.mastodon = {
    inherit (machine.s3) bucket key;
    publicUrl = machine.s3.publicHost;   # S3_ALIAS_HOST: a host name, no scheme
  };
  fedi.mastodon.ldap = {
    enable = true;
    inherit (machine.ldap) host port method base bindDN passwordFile;
  };
}
