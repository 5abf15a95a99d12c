#pragma once
// The NAR (Nix ARchive) serialisation of a file tree, byte for byte what
// `nix-store --dump` writes: the only metadata kept are the type, the executable bit
// of regular files (owner x) and symlink targets; directory entries are sorted by name
// bytewise. File contents are streamed in chunks, so memory stays bounded.
#include "core/io.hpp"

#include <cstdint>
#include <string>

namespace fedi::nix {

// Writes the NAR of `fs_path` (a regular file, directory or symlink; not followed).
// Throws fedi::Error naming the file on I/O errors, unsupported file types (sockets,
// devices, fifos) or a file whose size changes while it is read.
void dump_nar(const std::string& fs_path, Sink& sink);

// The size dump_nar would write, from metadata only (no file contents are read).
std::uint64_t nar_size(const std::string& fs_path);

} // namespace fedi::nix
