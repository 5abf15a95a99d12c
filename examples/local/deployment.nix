# A deployment that runs on one Linux machine with no infrastructure: three local
# containers (sshd in private namespaces, each with its own Nix store) that `fedi deploy`
# creates itself through the `container` provider (it needs root). They live in
# .fedi/containers/ beside the state file. Systems are small, built without nixpkgs.
#
# The deployment is a function of `resources`: once a machine is provisioned, its
# outputs (address, port, host key) are there, so one machine's system can name another.
{ resources, ... }:
let
  mkSystem = import ../../resources/minimal-system.nix;
  address = name:
    let m = resources.machines.${name} or null;
    in if m == null then "(not provisioned yet)" else "${m.host}:${toString m.port}";
  machine = args: {
    provision.provider = "local";
    system = mkSystem args;
  };
in
{
  providers.local = { type = "container"; };

  machines.s3 = machine { name = "s3"; message = "object storage node"; } // {
    tags = [ "storage" ];
  };
  machines.web = machine {
    name = "web";
    message = "Mastodon front end; object storage at ${address "s3"}";
  } // {
    tags = [ "fediverse" ];
    after = [ "s3" ];
  };
  machines.video = machine {
    name = "video";
    message = "PeerTube; object storage at ${address "s3"}";
  } // {
    tags = [ "fediverse" ];
    after = [ "s3" ];
  };
}
