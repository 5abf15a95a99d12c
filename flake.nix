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
          nativeBuildInputs = [ pkgs.cmake pkgs.pkg-config pkgs.python3 ];
          buildInputs = [ pkgs.cli11 pkgs.nlohmann_json pkgs.libssh2 pkgs.curl pkgs.fmt
                          pkgs.catch2 pkgs.openssl ];
          # The integration tests start sshd test hosts in Linux namespaces as root;
          # the Nix sandbox cannot, so only the build is checked here.
          doCheck = false;
        };
      });

      devShells = forAll (pkgs: {
        default = pkgs.mkShell { inputsFrom = [ self.packages.${pkgs.system}.default ]; };
      });

      # Nix-side helpers for deployments: systems without nixpkgs, NixOS modules.
      lib.minimalSystem = import ./resources/minimal-system.nix;
    };
}
