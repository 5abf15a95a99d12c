"""Buckets, access keys, aliases and bucket-key permissions of the Garage test double.

Results are built in the v2 document's shapes (GetBucketInfoResponse,
GetKeyInfoResponse, ...); the v1 API presents them through the v1 document's schemas.
"""

import datetime
import ipaddress
import re
import secrets

import errors
from schema import parse_datetime

_KEY_ID = re.compile(r"GK[0-9a-f]{24}\Z")
_SECRET = re.compile(r"[0-9a-f]{64}\Z")
_BUCKET_ID = re.compile(r"[0-9a-fA-F]{64}\Z")
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def rfc3339(moment):
    return None if moment is None else moment.isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def is_valid_bucket_name(name):
    """S3 bucket naming rules, as Garage applies them to aliases."""
    if not _BUCKET_NAME.match(name) or name.startswith("xn--") or name.endswith("-s3alias"):
        return False
    try:
        ipaddress.ip_address(name)
        return False
    except ValueError:
        return True


class Bucket:
    def __init__(self):
        self.id = secrets.token_hex(32)
        self.created = now()
        self.global_aliases = []
        self.website = None  # {"indexDocument", "errorDocument"} when website access is on
        self.quotas = {"maxSize": None, "maxObjects": None}
        self.objects = 0
        self.bytes = 0
        self.unfinished_uploads = 0
        self.permissions = {}  # key id -> {"read", "write", "owner"}


class Key:
    def __init__(self, key_id, secret, name):
        self.id = key_id
        self.secret = secret
        self.name = name
        self.created = now()
        self.expiration = None
        self.create_bucket = False
        self.local_aliases = {}  # alias -> bucket id

    def expired(self):
        return self.expiration is not None and self.expiration <= now()


class Store:
    def __init__(self):
        self.buckets = {}
        self.keys = {}
        self.retired_key_ids = set()  # Garage keeps tombstones: deleted ids stay taken

    # ---- lookups ----

    def bucket(self, bucket_id):
        if not _BUCKET_ID.match(bucket_id):
            raise errors.bad_request("Invalid bucket id")
        bucket = self.buckets.get(bucket_id.lower())
        if bucket is None:
            raise errors.no_such_bucket(bucket_id)
        return bucket

    def bucket_by_global_alias(self, alias):
        for bucket in self.buckets.values():
            if alias in bucket.global_aliases:
                return bucket
        return None

    def find_bucket(self, bucket_id=None, global_alias=None, search=None):
        given = [x for x in (bucket_id, global_alias, search) if x is not None]
        if len(given) != 1:
            raise errors.bad_request(
                "Either id, globalAlias or search must be provided (but not several of them)")
        if bucket_id is not None:
            return self.bucket(bucket_id)
        if global_alias is not None:
            bucket = self.bucket_by_global_alias(global_alias)
            if bucket is None:
                raise errors.no_such_bucket(global_alias)
            return bucket
        matches = [b for b in self.buckets.values()
                   if b.id.startswith(search.lower()) or search in b.global_aliases]
        if not matches:
            raise errors.no_such_bucket(search)
        if len(matches) > 1:
            raise errors.bad_request(f"Several matching buckets: {search}")
        return matches[0]

    def key(self, key_id):
        key = self.keys.get(key_id)
        if key is None:
            raise errors.no_such_key(key_id)
        return key

    def find_key(self, key_id=None, search=None):
        if (key_id is None) == (search is None):
            raise errors.bad_request("Either id or search must be provided (but not both)")
        if key_id is not None:
            return self.key(key_id)
        matches = [k for k in self.keys.values() if k.id.startswith(search) or k.name == search]
        if not matches:
            raise errors.no_such_key(search)
        if len(matches) > 1:
            raise errors.bad_request(f"Several keys match pattern {search}")
        return matches[0]

    # ---- buckets ----

    def create_bucket(self, global_alias, local_alias):
        if global_alias is not None:
            if not is_valid_bucket_name(global_alias):
                raise errors.bad_request(f"{global_alias}: invalid bucket name (S3 naming rules)")
            if self.bucket_by_global_alias(global_alias) is not None:
                raise errors.bucket_already_exists()
        if local_alias is not None:
            if not is_valid_bucket_name(local_alias["alias"]):
                raise errors.bad_request(
                    f"{local_alias['alias']}: invalid bucket name (S3 naming rules)")
            key = self.key(local_alias["accessKeyId"])
            if local_alias["alias"] in key.local_aliases:
                raise errors.bad_request("Local alias already exists")
        bucket = Bucket()
        self.buckets[bucket.id] = bucket
        if global_alias is not None:
            bucket.global_aliases.append(global_alias)
        if local_alias is not None:
            key.local_aliases[local_alias["alias"]] = bucket.id
            allow = local_alias.get("allow") or {}
            if any(allow.get(flag) for flag in ("read", "write", "owner")):
                bucket.permissions[key.id] = {flag: bool(allow.get(flag))
                                              for flag in ("read", "write", "owner")}
        return bucket

    def update_bucket(self, bucket, website_access, quotas):
        if website_access is not None:
            if website_access["enabled"]:
                if website_access.get("indexDocument") is None:
                    raise errors.bad_request(
                        "Please specify indexDocument when enabling website access.")
                bucket.website = {"indexDocument": website_access["indexDocument"],
                                  "errorDocument": website_access.get("errorDocument")}
            else:
                if (website_access.get("indexDocument") is not None
                        or website_access.get("errorDocument") is not None):
                    raise errors.bad_request(
                        "Cannot specify indexDocument or errorDocument when disabling "
                        "website access.")
                bucket.website = None
        if quotas is not None:
            # Both quotas are replaced together; an absent one means no quota.
            bucket.quotas = {"maxSize": quotas.get("maxSize"),
                             "maxObjects": quotas.get("maxObjects")}

    def delete_bucket(self, bucket):
        if bucket.objects > 0 or bucket.unfinished_uploads > 0:
            raise errors.bucket_not_empty()
        for key in self.keys.values():
            key.local_aliases = {a: b for a, b in key.local_aliases.items() if b != bucket.id}
        del self.buckets[bucket.id]

    def add_global_alias(self, bucket, alias):
        if not is_valid_bucket_name(alias):
            raise errors.invalid_bucket_name(alias)
        owner = self.bucket_by_global_alias(alias)
        if owner is bucket:
            return
        if owner is not None:
            raise errors.bad_request(
                f"Alias {alias} already exists and points to different bucket: {owner.id}")
        bucket.global_aliases.append(alias)

    def remove_global_alias(self, bucket, alias):
        if alias not in bucket.global_aliases:
            raise errors.bad_request(f"Bucket {bucket.id} doesn't have global alias {alias}")
        if self._alias_count(bucket) <= 1:
            raise errors.bad_request(
                f"Bucket {bucket.id} doesn't have other aliases, please delete it instead of "
                "just unaliasing.")
        bucket.global_aliases.remove(alias)

    def add_local_alias(self, bucket, key_id, alias):
        key = self.key(key_id)
        if not is_valid_bucket_name(alias):
            raise errors.invalid_bucket_name(alias)
        current = key.local_aliases.get(alias)
        if current == bucket.id:
            return
        if current is not None:
            raise errors.bad_request(
                f"Alias {alias} already exists and points to different bucket: {current}")
        key.local_aliases[alias] = bucket.id

    def remove_local_alias(self, bucket, key_id, alias):
        key = self.key(key_id)
        if key.local_aliases.get(alias) != bucket.id:
            raise errors.bad_request(f"Bucket {bucket.id} doesn't have local alias {alias}")
        if self._alias_count(bucket) <= 1:
            raise errors.bad_request(
                f"Bucket {bucket.id} doesn't have other aliases, please delete it instead of "
                "just unaliasing.")
        del key.local_aliases[alias]

    def _alias_count(self, bucket):
        local = sum(b == bucket.id for k in self.keys.values() for b in k.local_aliases.values())
        return len(bucket.global_aliases) + local

    def change_permissions(self, bucket, key, flags, allow):
        """AllowBucketKey/DenyBucketKey: only the flags given as true change."""
        perm = dict(bucket.permissions.get(key.id, {"read": False, "write": False,
                                                    "owner": False}))
        for flag in ("read", "write", "owner"):
            if flags.get(flag) is True:
                perm[flag] = allow
        bucket.permissions[key.id] = perm

    # ---- keys ----

    def create_key(self, name):
        while True:
            key_id = "GK" + secrets.token_hex(12)
            if key_id not in self.keys and key_id not in self.retired_key_ids:
                break
        key = Key(key_id, secrets.token_hex(32), name if name is not None else "Unnamed key")
        self.keys[key_id] = key
        return key

    def import_key(self, key_id, secret, name):
        if key_id in self.keys or key_id in self.retired_key_ids:
            raise errors.key_already_exists(key_id)
        if not _KEY_ID.match(key_id) or not _SECRET.match(secret):
            raise errors.bad_request("Invalid key format")
        key = Key(key_id, secret, name if name is not None else "Imported key")
        self.keys[key_id] = key
        return key

    def update_key(self, key, body):
        if body.get("name") is not None:
            key.name = body["name"]
        if (body.get("allow") or {}).get("createBucket") is True:
            key.create_bucket = True
        if (body.get("deny") or {}).get("createBucket") is True:
            key.create_bucket = False
        if body.get("expiration") is not None and body.get("neverExpires"):
            raise errors.bad_request("cannot specify both expiration and neverExpires")
        if body.get("neverExpires"):
            key.expiration = None
        elif body.get("expiration") is not None:
            key.expiration = parse_datetime(body["expiration"])

    def delete_key(self, key):
        for bucket in self.buckets.values():
            bucket.permissions.pop(key.id, None)
        del self.keys[key.id]
        self.retired_key_ids.add(key.id)

    # ---- result shapes (v2 document) ----

    def bucket_info(self, bucket):
        keys = []
        for key in sorted(self.keys.values(), key=lambda k: k.id):
            aliases = sorted(a for a, b in key.local_aliases.items() if b == bucket.id)
            if key.id not in bucket.permissions and not aliases:
                continue
            perm = bucket.permissions.get(key.id, {"read": False, "write": False,
                                                   "owner": False})
            keys.append({"accessKeyId": key.id, "name": key.name, "permissions": dict(perm),
                         "bucketLocalAliases": aliases})
        return {
            "id": bucket.id,
            "created": rfc3339(bucket.created),
            "globalAliases": list(bucket.global_aliases),
            "websiteAccess": bucket.website is not None,
            "websiteConfig": dict(bucket.website) if bucket.website else None,
            "keys": keys,
            "objects": bucket.objects,
            "bytes": bucket.bytes,
            "unfinishedUploads": bucket.unfinished_uploads,
            "unfinishedMultipartUploads": bucket.unfinished_uploads,
            "unfinishedMultipartUploadParts": 0,
            "unfinishedMultipartUploadBytes": 0,
            "quotas": dict(bucket.quotas),
        }

    def bucket_list(self):
        items = []
        for bucket in sorted(self.buckets.values(), key=lambda b: b.id):
            local = [{"accessKeyId": k.id, "alias": a}
                     for k in sorted(self.keys.values(), key=lambda k: k.id)
                     for a, b in sorted(k.local_aliases.items()) if b == bucket.id]
            items.append({"id": bucket.id, "created": rfc3339(bucket.created),
                          "globalAliases": list(bucket.global_aliases), "localAliases": local})
        return items

    def key_info(self, key, show_secret):
        buckets = []
        for bucket in sorted(self.buckets.values(), key=lambda b: b.id):
            aliases = sorted(a for a, b in key.local_aliases.items() if b == bucket.id)
            if key.id not in bucket.permissions and not aliases:
                continue
            perm = bucket.permissions.get(key.id, {"read": False, "write": False,
                                                   "owner": False})
            buckets.append({"id": bucket.id, "globalAliases": list(bucket.global_aliases),
                            "localAliases": aliases, "permissions": dict(perm)})
        info = {
            "accessKeyId": key.id,
            "name": key.name,
            "created": rfc3339(key.created),
            "expiration": rfc3339(key.expiration),
            "expired": key.expired(),
            "permissions": {"createBucket": key.create_bucket},
            "buckets": buckets,
        }
        # v2.0.0 src/api/admin/api.rs GetKeyInfoResponse (and v1.x key.rs): the secret is
        # skip_serializing_if is_default, absent rather than null when not shown.
        if show_secret:
            info["secretAccessKey"] = key.secret
        return info

    def key_list(self):
        return [{"id": k.id, "name": k.name, "created": rfc3339(k.created),
                 "expiration": rfc3339(k.expiration), "expired": k.expired()}
                for k in sorted(self.keys.values(), key=lambda k: k.id)]

    def snapshot(self):
        return {"buckets": [dict(self.bucket_info(b), permissions=b.permissions)
                            for b in self.buckets.values()],
                "keys": [dict(self.key_info(k, True), localAliases=k.local_aliases)
                         for k in self.keys.values()],
                "retiredKeyIds": sorted(self.retired_key_ids)}
