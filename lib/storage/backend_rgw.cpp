// The Ceph RGW backend. RGW has no bucket-scoped keys: each bucket gets an owner user
// "fedi-<bucket>" (admin ops API), the bucket is created through S3 with that user's
// first key, and each declared key is one more S3 key of that user (full access to the
// bucket, nothing else). A read-only key is a key of a second user the bucket's policy
// lets read it.
#include "core/error.hpp"
#include "s3/s3.hpp"
#include "storage/backend.hpp"
#include "storage/backend_impl.hpp"
#include "storage/rgw_admin.hpp"

#include <fmt/format.h>

namespace fedi::storage {

namespace {

using rgw::RgwAdmin;

std::string owner_uid(const std::string& bucket) {
    return "fedi-" + bucket;
}

// The user whose keys only read the bucket (through the bucket's policy).
std::string reader_uid(const std::string& bucket) {
    return "fedi-" + bucket + "-read";
}

class RgwBackend : public Backend {
  public:
    explicit RgwBackend(const model::Storage& s)
        : config_(s),
          admin_(rgw::AdminConfig{s.s3_endpoint,
                                  s.region,
                                  {read_secret(s.access_key), read_secret(s.secret_key), ""},
                                  "admin",
                                  {}}) {}

    std::vector<std::string> converge_cluster(const std::function<std::string(const std::string&)>&,
                                              bool) override {
        return {};
    }

    std::vector<BucketView> list_buckets() override {
        std::vector<BucketView> out;
        for (const auto& name : admin_.list_buckets())
            if (auto v = find_bucket(name))
                out.push_back(*v);
        return out;
    }

    std::optional<BucketView> find_bucket(const std::string& name) override {
        rgw::Bucket b;
        try {
            b = admin_.bucket_info(name);
        } catch (const rgw::AdminError& e) {
            if (e.status() == 404)
                return std::nullopt;
            throw;
        }
        BucketView v;
        v.name = b.name;
        v.id = b.name;
        v.objects = b.objects;
        v.bytes = b.size;
        if (auto user = admin_.find_user(b.owner))
            for (const auto& k : user->keys)
                v.keys.push_back({k.access_key, b.owner, {true, true, true}});
        return v;
    }

    BucketView create_bucket(const std::string& name, BucketRecord& record) override {
        auto uid = owner_uid(name);
        auto user = admin_.find_user(uid);
        if (!user)
            user = admin_.create_user(uid, "fedi: owner of bucket " + name);
        if (user->keys.empty())
            user->keys.push_back(admin_.create_key(uid));
        record.owner_user = uid;
        record.id = name;
        auto s3 = client(user->keys.front());
        if (!s3.bucket_exists(name))
            s3.create_bucket(name);
        auto v = find_bucket(name);
        if (!v)
            throw Error(fmt::format("RGW: bucket {} was created but cannot be found", name));
        return *v;
    }

    std::vector<std::string> apply_settings(const BucketView&, const model::Bucket&,
                                            bool) override {
        return {}; // quotas and websites are refused for RGW when the deployment is read
    }

    void delete_bucket(const BucketView& bucket, const BucketRecord* record, bool force) override {
        if (bucket.objects > 0 && !force)
            throw Error(fmt::format("bucket {} holds {} object(s) ({} bytes): not deleted (use "
                                    "--force to delete it with its contents)",
                                    bucket.name, bucket.objects, bucket.bytes));
        auto uid = record && !record->owner_user.empty() ? record->owner_user
                                                         : admin_.bucket_info(bucket.name).owner;
        auto user = admin_.user_info(uid);
        if (user.keys.empty())
            user.keys.push_back(admin_.create_key(uid));
        auto s3 = client(user.keys.front());
        if (force)
            for (const auto& o : s3.list_objects(bucket.name))
                s3.delete_object(bucket.name, o.key);
        s3.delete_bucket(bucket.name);
        if (uid == owner_uid(bucket.name)) // only the user fedi made for this bucket
            admin_.remove_user(uid, false);
        if (admin_.find_user(reader_uid(bucket.name)))
            admin_.remove_user(reader_uid(bucket.name), false);
    }

    NewKey create_key(const std::string& bucket, const BucketRecord& record,
                      const std::string&) override {
        auto k = admin_.create_key(uid_of(bucket, record));
        return {k.access_key, k.secret_key};
    }

    std::optional<std::string> key_secret(const BucketRecord& record,
                                          const std::string& id) override {
        auto user = admin_.find_user(record.owner_user);
        if (!user)
            return std::nullopt;
        for (const auto& k : user->keys)
            if (k.access_key == id)
                return k.secret_key;
        return std::nullopt;
    }

    std::vector<std::string> keys_named(const std::string&) override { return {}; }

    void delete_key(const BucketRecord& record, const std::string& id) override {
        admin_.remove_key(record.owner_user, id);
    }

    NewKey create_reader_key(const std::string& bucket, const BucketRecord&,
                             const std::string&) override {
        auto uid = reader_uid(bucket);
        if (!admin_.find_user(uid))
            admin_.create_user(uid, "fedi: reads bucket " + bucket);
        auto k = admin_.create_key(uid);
        return {k.access_key, k.secret_key};
    }

    // The owner's policy on the bucket lets the reader user get and list its objects; the
    // user owns nothing and has no other grant, so its keys can do nothing else.
    void allow_read_only(const std::string& bucket, const BucketRecord& record,
                         const std::string&) override {
        auto owner = admin_.user_info(uid_of(bucket, record));
        if (owner.keys.empty())
            owner.keys.push_back(admin_.create_key(owner.user_id));
        auto policy = fmt::format(
            R"({{"Version":"2012-10-17","Statement":[{{"Sid":"fedi-read","Effect":"Allow",)"
            R"("Principal":{{"AWS":["arn:aws:iam:::user/{0}"]}},)"
            R"("Action":["s3:GetObject","s3:ListBucket"],)"
            R"("Resource":["arn:aws:s3:::{1}","arn:aws:s3:::{1}/*"]}}]}})",
            reader_uid(bucket), bucket);
        client(owner.keys.front()).put_bucket_policy(bucket, policy);
    }

    bool set_permissions(const BucketView& bucket, const std::string& key_id, Permissions wanted,
                         bool) override {
        for (const auto& k : bucket.keys)
            if (k.id == key_id) {
                if (!(wanted == Permissions{true, true, true}) &&
                    !(wanted == Permissions{true, true, false}))
                    throw Error(fmt::format("RGW: key {} has full access to bucket {}; fedi cannot "
                                            "narrow it (RGW keys are not bucket-scoped)",
                                            key_id, bucket.name));
                return false;
            }
        throw Error(fmt::format("RGW: key {} does not belong to the owner of bucket {}; fedi "
                                "cannot give it access",
                                key_id, bucket.name));
    }

    const model::Storage& config() const override { return config_; }

  private:
    static std::string uid_of(const std::string& bucket, const BucketRecord& record) {
        return record.owner_user.empty() ? owner_uid(bucket) : record.owner_user;
    }

    S3Client client(const rgw::S3Key& key) const {
        S3Config c;
        c.endpoint = config_.s3_endpoint;
        c.region = config_.region;
        c.credentials = {key.access_key, key.secret_key, ""};
        return S3Client(c);
    }

    model::Storage config_;
    RgwAdmin admin_;
};

} // namespace

std::unique_ptr<Backend> make_rgw_backend(const model::Storage& s) {
    return std::make_unique<RgwBackend>(s);
}

} // namespace fedi::storage
