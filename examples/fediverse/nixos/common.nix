# What every VM of the deployment has: the template's own configuration (nixpkgs'
# Proxmox image module: boot disk, cloud-init, QEMU guest agent), SSH for fedi, and the
# data disks fedi attached, mounted with fedi's data-disks module.
{ lib, modulesPath, machine, ... }:
{
  imports = [
    "${modulesPath}/virtualisation/proxmox-image.nix"
    ../../../resources/data-disks.nix
  ];

  networking.hostName = machine.name;
  # fedi reads the VM's address and SSH host key through the guest agent.
  services.qemuGuest.enable = true;
  services.cloud-init.network.enable = true;  # the IP configuration Proxmox gives (ipConfig)
  services.openssh = {
    enable = true;
    settings.PasswordAuthentication = false;
  };
  users.users.root.openssh.authorizedKeys.keys = machine.settings.vm.sshKeys;

  fedi.dataDisks = machine.disks;

  security.acme = {
    acceptTerms = true;
    defaults.email = machine.settings.acmeEmail;
  };
  system.stateVersion = "24.05";
}
