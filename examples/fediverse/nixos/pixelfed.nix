# Pixelfed with its media in Garage (s3-services module). Its admin account is made by
# fedi with pixelfed-manage; Pixelfed has no LDAP login.
{ lib, machine, ... }:
let s = machine.settings.pixelfed; in
{
  imports = [ ../../../resources/nixos/s3-services.nix ];

  services.pixelfed = {
    enable = true;
    domain = s.domain;
    # APP_KEY and the like: a file on the machine, never in the store. fedi can deliver
    # it too (secrets.pixelfed-app-key with environmentVariable = "APP_KEY").
    secretFile = "/var/lib/fedi/secrets/pixelfed-app-key";
    settings = {
      # Pixelfed reads AWS_ENDPOINT and AWS_DEFAULT_REGION, not S3_ENDPOINT/S3_REGION.
      AWS_ENDPOINT = machine.s3.endpoint;
      AWS_DEFAULT_REGION = machine.s3.region;
      AWS_URL = "https://${machine.s3.publicHost}";
    };
    nginx = { enableACME = true; forceSSL = true; };
  };
  networking.firewall.allowedTCPPorts = [ 80 443 ];

  fedi.s3.pixelfed = { inherit (machine.s3) bucket key; };
}
