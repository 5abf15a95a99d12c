#pragma once
// Just enough XML for S3 answers: the text of simple elements, found by tag name. S3
// documents are flat and machine-written, so no parser is needed; this is not one.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fedi::storage::xml {

// The raw inner text of every <tag>...</tag> (or <tag/>, as "") in doc, in order. The
// tag must match exactly: "Bucket" does not match <Buckets>.
std::vector<std::string_view> elements(std::string_view doc, std::string_view tag);

// The unescaped text of the first <tag> in doc, if there is one.
std::optional<std::string> text(std::string_view doc, std::string_view tag);

// Character data: &lt; &gt; &amp; &quot; &apos; and numeric references.
std::string unescape(std::string_view s);
std::string escape(std::string_view s);

} // namespace fedi::storage::xml
