#pragma once
// The state as one S3 object (AWS S3, Ceph RGW, MinIO, ...), through fedi's own SigV4
// client with path-style addressing:
//
//   s3://BUCKET/KEY?endpoint=http://host:port&region=REGION
//
// endpoint defaults to https://s3.REGION.amazonaws.com, region to us-east-1. The keys
// come from the environment only: FEDI_STATE_S3_ACCESS_KEY_FILE and
// FEDI_STATE_S3_SECRET_KEY_FILE (files holding them), else AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. A location carrying credentials is refused.
//
// Objects, all beside KEY in BUCKET:
//   KEY                          the state; its version is its ETag
//   KEY.history/<time>-<etag>    a copy of every version written (history, read_version;
//                                best effort: a copy that fails does not fail the write)
//   KEY.lock/<scope>             a lock: JSON naming its holder, created with
//                                If-None-Match: * and deleted on unlock
// A write is PutObject with If-Match: <the ETag read> (If-None-Match: * for the first);
// HTTP 412 is a VersionConflict. S3 cannot tell whether a lock's holder is still alive:
// a run that was killed leaves its lock, reported to the next run with its holder, until
// `fedi state unlock ID` deletes it.
//
// A server that ignores If-None-Match would let two runs both "create" the same lock, so
// before the first lock or write fedi probes the bucket once per process: a second
// conditional create of one probe object must be refused with 412, or fedi refuses the
// server. The same probe finds how the server compares If-Match (quoted or bare ETag);
// a server that ignores If-Match is used with a read-and-compare before each write (a
// short race remains), the history copies keeping every version written.
#include "statestore/backend.hpp"

#include <string>

namespace fedi::statestore {

struct S3Location {
    std::string bucket;
    std::string key;
    std::string endpoint; // "http://host:port", no trailing slash
    std::string region;
};

// Parses an "s3://" location; a usage error naming what is wrong (never echoing a value
// that might be a secret).
S3Location parse_s3_location(const std::string& location);

struct S3Keys {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token; // empty: none
};

// The keys from the environment (see above); a usage error naming the variables to set.
S3Keys s3_keys_from_environment();

std::unique_ptr<Backend> s3_backend(const std::string& location, const BackendOptions& options);

} // namespace fedi::statestore
