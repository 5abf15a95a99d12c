#include "cache/s3_cache.hpp"

#include "cache/compress.hpp"
#include "cache/narinfo.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "nix/nar.hpp"
#include "s3/hash.hpp"

#include <atomic>
#include <fmt/format.h>
#include <future>
#include <map>
#include <mutex>
#include <thread>

namespace fedi::cache {

namespace {

std::string from_hex(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out += static_cast<char>(hex_value(hex[i]) * 16 + hex_value(hex[i + 1]));
    return out;
}

std::string base_name(const std::string& path) {
    return path.substr(path.rfind('/') + 1);
}

// One NAR going up: a single PutObject when it fits in one part, else a multipart upload
// started when the first full part is ready (aborted if anything fails before the end).
class NarUpload {
  public:
    NarUpload(storage::S3Client& client, const std::string& bucket, std::string key)
        : client_(client), bucket_(bucket), key_(std::move(key)) {}
    ~NarUpload() {
        if (!upload_id_.empty() && !done_) {
            try {
                client_.abort_multipart_upload(bucket_, key_, upload_id_);
            } catch (const Error&) { // the parts stay until the bucket's lifecycle drops them
            }
        }
    }
    NarUpload(const NarUpload&) = delete;
    NarUpload& operator=(const NarUpload&) = delete;

    void part(std::string&& body) {
        if (upload_id_.empty())
            upload_id_ = client_.create_multipart_upload(bucket_, key_, "application/x-nix-nar");
        sent_ += body.size();
        etags_.push_back(client_.upload_part(bucket_, key_, upload_id_,
                                             static_cast<int>(etags_.size()) + 1, std::move(body)));
    }
    void finish(std::string&& rest) {
        if (upload_id_.empty()) {
            sent_ += rest.size();
            client_.put_object(bucket_, key_, std::move(rest), "application/x-nix-nar");
        } else {
            if (!rest.empty())
                part(std::move(rest));
            client_.complete_multipart_upload(bucket_, key_, upload_id_, etags_);
        }
        done_ = true;
    }
    std::uint64_t sent() const { return sent_; }

  private:
    storage::S3Client& client_;
    const std::string& bucket_;
    std::string key_;
    std::string upload_id_;
    std::vector<std::string> etags_;
    std::uint64_t sent_ = 0;
    bool done_ = false;
};

// The NAR the store's database describes, or an error: a path changed since it was
// registered would be served with a hash Nix then refuses.
void check_nar(const nix::PathInfo& info, const CompressedNar& nar) {
    if (storage::hex(nar.nar_sha256) != info.nar_hash || nar.nar_size != info.nar_size)
        throw Error(fmt::format("{}: its NAR (sha256 {}, {} bytes) differs from what the Nix "
                                "database records (sha256 {}, {} bytes); `nix-store --verify "
                                "--check-contents` tells more",
                                info.path, storage::hex(nar.nar_sha256), nar.nar_size,
                                info.nar_hash, info.nar_size));
}

std::string public_read_policy(const std::string& bucket) {
    return fmt::format(R"({{"Version":"2012-10-17","Statement":[{{"Sid":"fedi-cache-public-read",)"
                       R"("Effect":"Allow","Principal":"*","Action":["s3:GetObject"],)"
                       R"("Resource":["arn:aws:s3:::{}/*"]}}]}})",
                       bucket);
}

struct Job {
    nix::PathInfo info;
    std::promise<void> done;
};

class S3Cache : public BinaryCache {
  public:
    S3Cache(CacheTarget target, std::unique_ptr<SigningKey> key)
        : t_(std::move(target)), key_(std::move(key)) {}

    UploadProgress upload(nix::LocalClosure& closure, const std::vector<std::string>& paths,
                          const std::function<void(const UploadProgress&)>& progress) override;
    std::string substituter_url() const override { return t_.substituter_url; }
    std::string public_key() const override { return t_.public_key; }
    std::optional<ReadKey> read_key() const override { return t_.reader_key; }

  private:
    void ensure_cache_info(storage::S3Client& client);
    std::uint64_t upload_path(storage::S3Client& client, const nix::PathInfo& info);
    void claim(const std::vector<nix::PathInfo>& infos, std::vector<Job>& mine,
               std::vector<std::shared_future<void>>& theirs);
    void run_jobs(std::vector<Job>& jobs, UploadProgress& p,
                  const std::function<void(const UploadProgress&)>& progress);
    void forget(const std::string& path);

    CacheTarget t_;
    std::unique_ptr<SigningKey> key_;
    std::once_flag cache_info_once_;
    std::mutex mutex_; // guards claimed_
    // Paths being uploaded or known to be in the cache, by any upload() call.
    std::map<std::string, std::shared_future<void>> claimed_;
};

void S3Cache::ensure_cache_info(storage::S3Client& client) {
    std::call_once(cache_info_once_, [&] {
        if (t_.public_read_policy)
            client.put_bucket_policy(t_.bucket, public_read_policy(t_.bucket));
        if (!client.head_object(t_.bucket, cache_info_key))
            client.put_object(t_.bucket, cache_info_key, cache_info_text(),
                              "text/x-nix-cache-info");
    });
}

// Sends the path's NAR, then its signed narinfo (so no narinfo ever names a missing NAR).
// Returns the bytes sent.
std::uint64_t S3Cache::upload_path(storage::S3Client& client, const nix::PathInfo& info) {
    NarInfo n;
    n.store_path = info.path;
    n.compression = t_.compression;
    n.nar_size = info.nar_size;
    n.nar_hash = "sha256:" + nix32(from_hex(info.nar_hash));
    n.url = "nar/" + n.nar_hash.substr(7) + ".nar" + compression_suffix(t_.compression);
    NarUpload up(client, t_.bucket, n.url);
    CompressingSink sink(t_.compression, t_.part_size,
                         [&up](std::string&& part) { up.part(std::move(part)); });
    nix::dump_nar(info.path, sink);
    CompressedNar nar;
    auto rest = sink.finish(nar);
    check_nar(info, nar);
    up.finish(std::move(rest));
    n.file_hash = "sha256:" + nix32(nar.file_sha256);
    n.file_size = nar.file_size;
    for (const auto& r : info.references)
        n.references.push_back(base_name(r));
    if (!info.deriver.empty())
        n.deriver = base_name(info.deriver);
    n.sigs.push_back(key_->sign(fingerprint(n)));
    auto text = render(n);
    auto sent = up.sent() + text.size();
    client.put_object(t_.bucket, narinfo_key(info.path), std::move(text), "text/x-nix-narinfo");
    return sent;
}

// Takes the paths no other call has claimed; the others' futures are waited for.
void S3Cache::claim(const std::vector<nix::PathInfo>& infos, std::vector<Job>& mine,
                    std::vector<std::shared_future<void>>& theirs) {
    std::lock_guard lock(mutex_);
    mine.reserve(infos.size());
    for (const auto& info : infos) {
        if (auto it = claimed_.find(info.path); it != claimed_.end()) {
            theirs.push_back(it->second);
            continue;
        }
        mine.push_back({info, {}});
        claimed_.emplace(info.path, mine.back().done.get_future().share());
    }
}

void S3Cache::forget(const std::string& path) {
    std::lock_guard lock(mutex_);
    claimed_.erase(path); // a later call tries again
}

// Each job once: a HEAD on its narinfo, the upload when that says it is missing. One
// S3 client per thread; the first error is thrown once every thread has stopped.
void S3Cache::run_jobs(std::vector<Job>& jobs, UploadProgress& p,
                       const std::function<void(const UploadProgress&)>& progress) {
    std::atomic<std::size_t> next{0};
    std::mutex progress_mutex;
    std::exception_ptr first_error;
    auto worker = [&] {
        storage::S3Client client(t_.s3);
        for (std::size_t i; (i = next++) < jobs.size();) {
            auto& job = jobs[i];
            try {
                bool present =
                    client.head_object(t_.bucket, narinfo_key(job.info.path)).has_value();
                std::uint64_t sent = present ? 0 : upload_path(client, job.info);
                job.done.set_value();
                std::lock_guard lock(progress_mutex);
                (present ? p.paths_present : p.paths_uploaded) += 1;
                p.bytes_uploaded += sent;
                p.nar_bytes += present ? 0 : job.info.nar_size;
                if (progress)
                    progress(p);
            } catch (...) {
                try {
                    throw;
                } catch (Error& e) {
                    e.with_context("uploading " + job.info.path + " to the binary cache");
                } catch (...) {
                }
                forget(job.info.path);
                job.done.set_exception(std::current_exception());
                std::lock_guard lock(progress_mutex);
                if (!first_error)
                    first_error = std::current_exception();
            }
        }
    };
    std::vector<std::thread> threads;
    auto n = std::min<std::size_t>(std::max(1u, t_.jobs), jobs.size());
    for (std::size_t i = 1; i < n; ++i)
        threads.emplace_back(worker);
    if (n > 0)
        worker();
    for (auto& t : threads)
        t.join();
    if (first_error)
        std::rethrow_exception(first_error);
}

UploadProgress S3Cache::upload(nix::LocalClosure& closure, const std::vector<std::string>& paths,
                               const std::function<void(const UploadProgress&)>& progress) {
    UploadProgress p;
    p.paths_total = paths.size();
    if (paths.empty())
        return p;
    {
        storage::S3Client client(t_.s3);
        ensure_cache_info(client);
    }
    std::vector<Job> mine;
    std::vector<std::shared_future<void>> theirs;
    claim(closure.infos(paths), mine, theirs);
    run_jobs(mine, p, progress);
    for (auto& f : theirs)
        f.get(); // throws what the call that uploads it met
    p.paths_present += theirs.size();
    if (progress && !theirs.empty())
        progress(p);
    return p;
}

} // namespace

std::string narinfo_key(const std::string& store_path) {
    return hash_part(store_path) + ".narinfo";
}

std::string cache_info_text() {
    // Priority 40: before cache.nixos.org (50) when a machine has both.
    return "StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n";
}

std::unique_ptr<BinaryCache> make_s3_cache(CacheTarget target, std::unique_ptr<SigningKey> key) {
    return std::make_unique<S3Cache>(std::move(target), std::move(key));
}

} // namespace fedi::cache
