# A deployment that runs on one Linux machine with no infrastructure: three local test
# machines (sshd in private namespaces, each with its own Nix store) that `scripts/demo`
# starts and describes in .hosts/hosts.json. Systems are small, built without nixpkgs.
let
  hostsFile = ./.hosts/hosts.json;
  hosts =
    if builtins.pathExists hostsFile
    then builtins.listToAttrs (map (h: { name = h.name; value = h; })
      (builtins.fromJSON (builtins.readFile hostsFile)))
    else throw "examples/local: no local machines yet; start them with scripts/demo";
  mkSystem = import ../../resources/minimal-system.nix;
  machine = hostName: args: {
    ssh = {
      host = hosts.${hostName}.host;
      port = hosts.${hostName}.port;
      user = "root";
      hostKey = hosts.${hostName}.hostKey;
      identityFile = ./.hosts/client_ed25519;
    };
    system = mkSystem args;
  };
in
{
  machines.s3 = machine "local1" { name = "s3"; message = "object storage node"; } // {
    tags = [ "storage" ];
  };
  machines.web = machine "local2" { name = "web"; message = "Mastodon front end"; } // {
    tags = [ "fediverse" ];
    after = [ "s3" ];
  };
  machines.video = machine "local3" { name = "video"; message = "PeerTube"; } // {
    tags = [ "fediverse" ];
    after = [ "s3" ];
  };
}
