# Points Mastodon, PeerTube and Pixelfed at the bucket fedi made for them (NixOS
# module). The key arrives as /var/lib/fedi/secrets/<bucket>-<key>.env (AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, S3_ENDPOINT, S3_REGION, S3_BUCKET), written by `fedi deploy`
# before activation; it is read through systemd's EnvironmentFile=, never the store.
#
#   fedi.s3.mastodon = { bucket = "mastodon-media"; key = "mastodon"; };
#   fedi.s3.peertube = { bucket = "peertube-videos"; key = "peertube"; };
#   fedi.s3.pixelfed = { bucket = "pixelfed-media"; key = "pixelfed"; };
{ config, lib, ... }:
let
  secretsDir = "/var/lib/fedi/secrets";
  bucketOption = service: lib.mkOption {
    default = null;
    description = "The bucket and key fedi delivers to ${service}.";
    type = lib.types.nullOr (lib.types.submodule {
      options = {
        bucket = lib.mkOption { type = lib.types.str; };
        key = lib.mkOption { type = lib.types.str; };
        publicUrl = lib.mkOption {
          type = lib.types.nullOr lib.types.str; default = null;
          description = "Where the bucket's objects are served from (a CDN or the web endpoint).";
        };
      };
    });
  };
  envFile = c: "${secretsDir}/${c.bucket}-${c.key}.env";
  cfg = config.fedi.s3;
  withEnv = units: c: lib.genAttrs units (_: { serviceConfig.EnvironmentFile = [ (envFile c) ]; });
in
{
  options.fedi.s3 = {
    mastodon = bucketOption "Mastodon";
    peertube = bucketOption "PeerTube";
    pixelfed = bucketOption "Pixelfed";
  };

  config = lib.mkMerge [
    # Mastodon reads S3_ENABLED, S3_BUCKET, S3_REGION, S3_ENDPOINT and the AWS_* pair
    # from its environment.
    (lib.mkIf (cfg.mastodon != null) {
      services.mastodon.extraConfig = {
        S3_ENABLED = "true";
        S3_PROTOCOL = "https";
      } // lib.optionalAttrs (cfg.mastodon.publicUrl != null) {
        S3_ALIAS_HOST = cfg.mastodon.publicUrl;
      };
      systemd.services = withEnv [ "mastodon-web" "mastodon-sidekiq-all" "mastodon-init-db" ]
        cfg.mastodon;
    })
    # PeerTube: bucket names in its settings; the AWS SDK it uses takes the key pair from
    # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. The endpoint and region must be given
    # here too (PeerTube does not read S3_ENDPOINT).
    (lib.mkIf (cfg.peertube != null) {
      services.peertube.settings.object_storage = {
        enabled = true;
        web_videos = { bucket_name = cfg.peertube.bucket; prefix = "web-videos/"; };
        streaming_playlists = { bucket_name = cfg.peertube.bucket; prefix = "streaming-playlists/"; };
      };
      systemd.services = withEnv [ "peertube" ] cfg.peertube;
    })
    # Pixelfed (Laravel) reads AWS_BUCKET, AWS_DEFAULT_REGION, AWS_ENDPOINT and AWS_*KEY*.
    (lib.mkIf (cfg.pixelfed != null) {
      services.pixelfed.settings = {
        FILESYSTEM_CLOUD = "s3";
        PF_ENABLE_CLOUD = true;
        AWS_BUCKET = cfg.pixelfed.bucket;
        AWS_USE_PATH_STYLE_ENDPOINT = true;
      };
      systemd.services = withEnv [ "pixelfed-horizon" "phpfpm-pixelfed" "pixelfed-data-setup" ]
        cfg.pixelfed;
    })
  ];
}
