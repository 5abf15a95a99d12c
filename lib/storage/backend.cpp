#include "storage/backend.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "storage/backend_impl.hpp"

#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

namespace fedi::storage {

std::string read_secret(const model::CredentialSource& source) {
    if (source.file) {
        std::ifstream in(*source.file, std::ios::binary);
        if (!in)
            throw usage_error(fmt::format("{}: cannot read {}", source.origin, *source.file));
        std::ostringstream text;
        text << in.rdbuf();
        auto value = trim(text.str());
        if (value.empty())
            throw usage_error(fmt::format("{}: {} is empty", source.origin, *source.file));
        return value;
    }
    if (source.env) {
        const char* v = std::getenv(source.env->c_str());
        if (!v || trim(v).empty())
            throw usage_error(fmt::format("{}: the environment variable {} is not set",
                                          source.origin, *source.env));
        return trim(v);
    }
    throw usage_error(fmt::format("{}: no credential given", source.origin));
}

std::unique_ptr<Backend> open_backend(const model::Storage& storage) {
    return with_context(fmt::format("opening storage {}", storage.name), [&] {
        return storage.type == model::StorageType::Garage ? make_garage_backend(storage)
                                                          : make_rgw_backend(storage);
    });
}

std::string garage_key_name(const std::string& bucket, const std::string& key) {
    return "fedi-" + bucket + "-" + key;
}

} // namespace fedi::storage
