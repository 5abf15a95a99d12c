# PeerTube with its videos in Garage (s3-services module) and root's password managed by
# fedi (peertube module: PT_INITIAL_ROOT_PASSWORD from the file fedi delivers, then
# reset through the reset-password script). The bind password for the LDAP plugin
# (peertube-plugin-auth-ldap, set up in PeerTube's admin interface) is delivered to
# /var/lib/fedi/secrets/peertube-ldap.
{ lib, machine, ... }:
let
  s = machine.settings.peertube;
  public = "https://${machine.s3.publicHost}";
in
{
  imports = [
    ../../../resources/nixos/s3-services.nix
    ../../../resources/nixos/peertube.nix
  ];

  services.peertube = {
    enable = true;
    localDomain = s.domain;
    listenWeb = 443;
    enableWebHttps = true;
    configureNginx = true;
    database.createLocally = true;
    redis.createLocally = true;
    settings.admin.email = s.email;
    # PeerTube does not read S3_ENDPOINT: the endpoint and region are given here.
    settings.object_storage = {
      endpoint = machine.s3.endpoint;
      region = machine.s3.region;
      web_videos.base_url = public;
      streaming_playlists.base_url = public;
    };
  };
  networking.firewall.allowedTCPPorts = [ 80 443 ];

  fedi.s3.peertube = { inherit (machine.s3) bucket key; };
  fedi.peertube = { enable = true; inherit (machine) account; };
}
