"""Garage admin API errors: HTTP status, error code and message as the real server forms them.

The message prefixes ("Bad request: ", "Forbidden: ", "Internal error: ") and the
status/code pairs follow Garage's error types (src/api/common_error.rs at v0.9.4 and
v1.0.0, src/api/common/common_error.rs from v1.1.0 to v2.0.0, and src/api/admin/error.rs
for NoSuchAccessKey 404 and KeyAlreadyExists 409); bodies are rendered as
src/api/admin/error.rs `http_body` does at every one of these tags, a pretty-printed
CustomApiErrorBody {"code", "message", "region", "path"}.
"""


class GarageError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self, region, path):
        return {"code": self.code, "message": self.message, "region": region, "path": path}


def bad_request(message):
    return GarageError(400, "InvalidRequest", f"Bad request: {message}")


def forbidden(message):
    return GarageError(403, "AccessDenied", f"Forbidden: {message}")


def internal(message):
    return GarageError(500, "InternalError", f"Internal error: {message}")


def not_implemented(operation):
    # Not a Garage error: the test double says plainly what it does not model.
    return GarageError(501, "NotImplemented",
                       f"{operation} is not modelled by the Garage test server")


def no_such_bucket(name):
    return GarageError(404, "NoSuchBucket", f"Bucket not found: {name}")


def no_such_key(key_id):
    return GarageError(404, "NoSuchAccessKey", f"Access key not found: {key_id}")


def bucket_already_exists():
    return GarageError(409, "BucketAlreadyExists", "Bucket already exists")


def bucket_not_empty():
    return GarageError(409, "BucketNotEmpty", "Tried to delete a non-empty bucket")


def key_already_exists(key_id):
    return GarageError(
        409, "KeyAlreadyExists",
        f"Key {key_id} already exists in data store. Even if it is deleted, a new key "
        "with the same ID cannot be created.")


def invalid_bucket_name(name):
    return GarageError(400, "InvalidBucketName", f"Invalid bucket name: {name}")
