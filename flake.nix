{
  description = "fedi: deploy and run Fediverse services on NixOS machines";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAll (pkgs: {
        default = pkgs.stdenv.mkDerivation {
          pname = "fedi";
          version = "0.1.0";
          src = self;
          # Every library CMake looks for (find_package, pkg_check_modules); the test
          # test/integration/test_flake.py keeps this list and CMake's in step.
          nativeBuildInputs = [ pkgs.cmake pkgs.git pkgs.pkg-config pkgs.python3 ];
          buildInputs = [ pkgs.cli11 pkgs.nlohmann_json pkgs.libssh2 pkgs.curl pkgs.fmt
                          pkgs.catch2 pkgs.openssl pkgs.openldap pkgs.postgresql pkgs.xz
                          pkgs.zstd ];
          # The integration tests start sshd test hosts in Linux namespaces as root;
          # the Nix sandbox cannot, so only the build is checked here.
          doCheck = false;
        };
      });

      devShells = forAll (pkgs: {
        default = pkgs.mkShell { inputsFrom = [ self.packages.${pkgs.system}.default ]; };
      });

      # Nix-side helpers for deployments: systems without nixpkgs.
      lib.minimalSystem = import ./resources/minimal-system.nix;

      # The NixOS modules that wire services to fedi's secrets, accounts and disks
      # (`imports = [ fedi.nixosModules.garage-node ];`).
      nixosModules = {
        binary-cache = ./resources/nixos/binary-cache.nix;
        data-disks = ./resources/data-disks.nix;
        garage-node = ./resources/nixos/garage-node.nix;
        mastodon-ldap = ./resources/nixos/mastodon-ldap.nix;
        peertube = ./resources/nixos/peertube.nix;
        s3-services = ./resources/nixos/s3-services.nix;
      };
    };
}
