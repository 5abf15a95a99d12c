#pragma once
// The backend factories open_backend() chooses from (internal to lib/storage).
#include "storage/backend.hpp"

namespace fedi::storage {

std::unique_ptr<Backend> make_garage_backend(const model::Storage& s);
std::unique_ptr<Backend> make_rgw_backend(const model::Storage& s);

} // namespace fedi::storage
