# The first step of the demo (scripts/demo: `fedi -f bootstrap.nix deploy --on
# @infrastructure`): deployment.nix without what needs the infrastructure running. fedi
# converges identity directories and RGW storage before it deploys any machine, so the
# machines that run them (s3: Ceph RGW, ldap: slapd) are deployed from here first, with
# their systems and secrets exactly as deployment.nix has them (the same state file:
# .fedi/state.json); `fedi deploy` of deployment.nix then finds them unchanged.
args:
let
  full = import ./deployment.nix args;
  infrastructure = [ "s3" "ldap" ];
  forInfrastructure = s: builtins.elem (s.machine or "") infrastructure;
  secrets = builtins.listToAttrs (map (n: { name = n; value = full.secrets.${n}; })
    (builtins.filter (n: forInfrastructure full.secrets.${n}) (builtins.attrNames full.secrets)));
in
builtins.removeAttrs full [ "storage" "buckets" "identity" "accounts" ] // { inherit secrets; }
