# A hosting provider's Fediverse: six NixOS VMs on Proxmox VE, cloned from a template on
# shared (Linstor) storage, each with its data disks; three Garage nodes (replication 3)
# holding a bucket for each service; Mastodon, PeerTube and Pixelfed with their S3 keys,
# their admin accounts and Mastodon's LDAP login. See README.md beside this file.
#
#   cd examples/fediverse && fedi deploy
#
# settings.nix is what an operator edits; fediverse.nix is the wiring; nixos/ holds the
# machines' NixOS configurations, which use the modules in fedi's resources/.
{ resources, ... }:
let
  settings = import ./settings.nix;
in
import ./fediverse.nix {
  inherit resources settings;
  platform = import ./nixos { inherit (settings) nixpkgs system; };
}
