# A NixOS module that mounts the data disks fedi attached to a provisioned machine, so
# that services keep their data on the provider's storage (e.g. shared Linstor storage).
#
#   { resources, ... }: {
#     machines.s3-1.system = (import <nixpkgs/nixos> { configuration = {
#       imports = [ ./resources/data-disks.nix ];
#       fedi.dataDisks = resources.machines.s3-1.disks or [ ];
#     }; }).config.system.build.toplevel;
#   }
#
# Each disk is an attribute set as fedi reports it in resources.machines.<name>.disks
# (for the proxmox provider: name, serial "fedi-<name>", device
# /dev/disk/by-id/virtio-<serial>, size, fsType, mount), or written by hand. A disk is found
# by `label` (/dev/disk/by-label/...), else `device`, else `serial`; disks without `mount`
# are left alone. A blank disk is formatted (fsType, default ext4) on first boot; a disk
# with a file system is never reformatted.
{ config, lib, ... }:
let
  disks = builtins.filter (d: (d.mount or null) != null) config.fedi.dataDisks;
  device = d:
    if (d.label or null) != null then "/dev/disk/by-label/${d.label}"
    else if (d.device or null) != null then d.device
    else if (d.serial or null) != null then "/dev/disk/by-id/virtio-${d.serial}"
    else throw "fedi.dataDisks: the disk for ${d.mount} has no label, device or serial";
in
{
  options.fedi.dataDisks = lib.mkOption {
    type = lib.types.listOf (lib.types.attrsOf lib.types.anything);
    default = [ ];
    description = ''
      Data disks to mount: { mount; serial or label or device; fsType ? "ext4"; }.
      Usually `resources.machines.<name>.disks` from fedi.
    '';
  };

  config.fileSystems = builtins.listToAttrs (map
    (d: {
      name = d.mount;
      value = {
        device = device d;
        fsType = d.fsType or "ext4";
        autoFormat = true;
        # Wait for the disk rather than boot without it: a service must never write its
        # data to the root disk by mistake.
        options = [ "x-systemd.device-timeout=90s" ];
      };
    })
    disks);
}
