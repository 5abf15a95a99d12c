"""The v1 API on top of the v2 operations.

Garage 2.x converts each v1 request into its v2 equivalent, parses it with the v2
request types and answers with the v2 result; Garage 1.x served v1 natively. The double
does the conversion in both modes, checks the converted body against the v2 schema too
(the real servers deserialise v1 bodies into those same types), and in 1.x mode presents
the result through the v1 document's response schema.
"""


def _same(name):
    return lambda query, body: (name, query, body)


def _get_key(query, body):
    return "GetKeyInfo", {"id": query.get("id"), "search": query.get("search"),
                          "showSecretKey": query.get("showSecretKey") == "true"}, None


def _alias(name, local):
    def convert(query, body):
        converted = {"bucketId": query["id"]}
        if local:
            converted.update(localAlias=query["alias"], accessKeyId=query["accessKeyId"])
        else:
            converted["globalAlias"] = query["alias"]
        return name, {}, converted
    return convert


# v1 document operation id -> converter(query, body) -> (v2 name, query, body)
CONVERSIONS = {
    "GetHealth": lambda q, b: ("GetClusterHealth", {}, None),
    "GetNodes": lambda q, b: ("V1Status", {}, None),
    "AddNode": lambda q, b: ("ConnectClusterNodes", {}, b),
    "GetLayout": lambda q, b: ("GetClusterLayout", {}, None),
    "AddLayout": lambda q, b: ("UpdateClusterLayout", {}, {"roles": b}),
    "ApplyLayout": lambda q, b: ("ApplyClusterLayout", {}, b),
    "RevertLayout": lambda q, b: ("RevertClusterLayout", {}, None),
    "ListKeys": _same("ListKeys"),
    "AddKey": lambda q, b: ("CreateKey", {}, {"name": b.get("name")}),
    "GetKey": _get_key,
    "DeleteKey": _same("DeleteKey"),
    "UpdateKey": _same("UpdateKey"),
    "ImportKey": _same("ImportKey"),
    "ListBuckets": _same("ListBuckets"),
    "CreateBucket": _same("CreateBucket"),
    "GetBucketInfo": _same("GetBucketInfo"),
    "DeleteBucket": _same("DeleteBucket"),
    "UpdateBucket": _same("UpdateBucket"),
    "AllowBucketKey": _same("AllowBucketKey"),
    "DenyBucketKey": _same("DenyBucketKey"),
    "PutBucketGlobalAlias": _alias("AddBucketAlias", local=False),
    "DeleteBucketGlobalAlias": _alias("RemoveBucketAlias", local=False),
    "PutBucketLocalAlias": _alias("AddBucketAlias", local=True),
    "DeleteBucketLocalAlias": _alias("RemoveBucketAlias", local=True),
}


def convert(op_id, query, body):
    return CONVERSIONS[op_id](query, body)
