#include "http/http.hpp"

#include "core/text.hpp"

#include "core/error.hpp"

#include <cctype>
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>

namespace fedi::http {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// curl_global_init is not safe to race with other threads; do it once, on first use.
void global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            throw Error("cannot initialise libcurl");
    });
}

struct Transfer {
    Response response;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    static_cast<Transfer*>(user)->response.body.append(data, size * n);
    return size * n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
    auto& response = static_cast<Transfer*>(user)->response;
    std::string_view line(data, size * n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
        line.remove_suffix(1);
    if (line.rfind("HTTP/", 0) == 0) {
        // A new status line (after 100 Continue, say): only the final response counts.
        response.headers.clear();
        response.reason.clear();
        // "HTTP/1.1 401 invalid token value!": the reason is everything after the code.
        if (auto sp = line.find(' '); sp != std::string_view::npos) {
            if (auto sp2 = line.find(' ', sp + 1); sp2 != std::string_view::npos)
                response.reason = std::string(line.substr(sp2 + 1));
        }
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
        auto value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
            value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
            value.remove_suffix(1);
        response.headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
    }
    return size * n;
}

struct SList {
    curl_slist* list = nullptr;
    ~SList() { curl_slist_free_all(list); }
    void add(const std::string& line) {
        auto* next = curl_slist_append(list, line.c_str());
        if (!next)
            throw Error("out of memory building HTTP headers");
        list = next;
    }
};

} // namespace

std::optional<std::string> find_header(const Headers& headers, std::string_view name) {
    for (const auto& h : headers)
        if (iequals(h.name, name))
            return h.value;
    return std::nullopt;
}

std::string redact_url(std::string_view url) {
    auto end = url.find_first_of("?#");
    url = url.substr(0, end);
    auto scheme = url.find("://");
    auto authority_start = scheme == std::string_view::npos ? 0 : scheme + 3;
    auto path_start = url.find('/', authority_start);
    auto authority = url.substr(authority_start, path_start == std::string_view::npos
                                                     ? std::string_view::npos
                                                     : path_start - authority_start);
    auto at = authority.rfind('@');
    if (at == std::string_view::npos)
        return std::string(url);
    std::string out(url.substr(0, authority_start));
    out += authority.substr(at + 1);
    if (path_start != std::string_view::npos)
        out += url.substr(path_start);
    return out;
}

std::string normalise_pin(std::string_view pin) {
    if (pin.rfind("sha256//", 0) == 0)
        return std::string(pin);
    std::string hex;
    for (char c : pin)
        if (c != ':')
            hex += c;
    bool all_hex = hex.size() == 64;
    for (char c : hex)
        all_hex = all_hex && std::isxdigit(static_cast<unsigned char>(c));
    if (!all_hex)
        throw usage_error(fmt::format(
            "pinned public key '{}' is neither 'sha256//BASE64' nor 64 hex digits", pin));
    unsigned char raw[32];
    for (std::size_t i = 0; i < 32; ++i)
        raw[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    return "sha256//" +
           base64_encode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
}

Client::Client(ClientOptions options) : options_(std::move(options)) {
    global_init();
    if (!options_.tls.pinned_public_key.empty())
        pin_ = normalise_pin(options_.tls.pinned_public_key);
    curl_ = curl_easy_init();
    if (!curl_)
        throw Error("cannot create a libcurl handle");
}

Client::~Client() {
    curl_easy_cleanup(static_cast<CURL*>(curl_));
}

namespace {

// One request on a reset curl handle: sets options, naming the request in any error.
class Easy {
  public:
    Easy(CURL* curl, const Request& request) : curl_(curl), request_(request) {
        curl_easy_reset(curl_);
    }

    template <typename T> void set(CURLoption option, T value) {
        if (auto rc = curl_easy_setopt(curl_, option, value); rc != CURLE_OK)
            fail(fmt::format("cannot set a libcurl option: {}", curl_easy_strerror(rc)));
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw Error(fmt::format("HTTP {} {}: {}", request_.method, redact_url(request_.url), what));
    }

    CURL* handle() const { return curl_; }
    const Request& request() const { return request_; }

  private:
    CURL* curl_;
    const Request& request_;
};

void set_connection(Easy& easy, const ClientOptions& options, Transfer& transfer,
                    char* error_buffer) {
    easy.set(CURLOPT_URL, easy.request().url.c_str());
    // The signed path must be the one sent: no dot-segment removal by curl.
    easy.set(CURLOPT_PATH_AS_IS, 1L);
    easy.set(CURLOPT_NOSIGNAL, 1L);
    easy.set(CURLOPT_ERRORBUFFER, error_buffer);
    easy.set(CURLOPT_PROTOCOLS_STR, "http,https");
    easy.set(CURLOPT_FOLLOWLOCATION, 0L);
    easy.set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
    easy.set(CURLOPT_TIMEOUT_MS, static_cast<long>(options.total_timeout.count()));
    if (!options.user_agent.empty())
        easy.set(CURLOPT_USERAGENT, options.user_agent.c_str());
    if (options.capture_certificate) {
        // curl reports certificates only for a handshake: make one every time.
        easy.set(CURLOPT_CERTINFO, 1L);
        easy.set(CURLOPT_FRESH_CONNECT, 1L);
    }
    easy.set(CURLOPT_WRITEFUNCTION, on_body);
    easy.set(CURLOPT_WRITEDATA, &transfer);
    easy.set(CURLOPT_HEADERFUNCTION, on_header);
    easy.set(CURLOPT_HEADERDATA, &transfer);
}

// `pin` is the pinned key in curl's form, or empty.
void set_tls(Easy& easy, const TlsOptions& tls, const std::string& pin) {
    // With `insecure`, nothing is checked; with only a pin, the pin is the trust anchor:
    // no CA chain or host name needed.
    if (tls.insecure || (!pin.empty() && tls.ca_file.empty())) {
        easy.set(CURLOPT_SSL_VERIFYPEER, 0L);
        easy.set(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (tls.insecure)
        return;
    if (!tls.ca_file.empty())
        easy.set(CURLOPT_CAINFO, tls.ca_file.c_str());
    if (!pin.empty())
        easy.set(CURLOPT_PINNEDPUBLICKEY, pin.c_str());
}

void set_method_and_body(Easy& easy) {
    const auto& request = easy.request();
    if (request.method == "HEAD") {
        easy.set(CURLOPT_NOBODY, 1L);
    } else if (request.method == "GET" && request.body.empty()) {
        easy.set(CURLOPT_HTTPGET, 1L);
    } else {
        // Any other method, or a body: send the body (possibly empty, Content-Length: 0).
        easy.set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
        easy.set(CURLOPT_POSTFIELDS, request.body.data());
        easy.set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
}

// The request's headers in curl's form, and nothing curl would add on its own.
void set_headers(Easy& easy, SList& headers) {
    bool has_content_type = false;
    for (const auto& h : easy.request().headers) {
        if (h.name.find_first_of(":\r\n") != std::string::npos ||
            h.value.find_first_of("\r\n") != std::string::npos)
            easy.fail(fmt::format("header '{}' contains a line break or colon", h.name));
        has_content_type = has_content_type || iequals(h.name, "Content-Type");
        // "Name;" is curl's way to send a header with an empty value.
        headers.add(h.value.empty() ? h.name + ";" : h.name + ": " + h.value);
    }
    // Keep curl from adding headers of its own that nobody asked for (and that signing
    // did not cover): a form Content-Type for bodies, and Expect: 100-continue.
    if (!has_content_type)
        headers.add("Content-Type:");
    headers.add("Expect:");
    easy.set(CURLOPT_HTTPHEADER, headers.list);
}

// The PEM text of the server's leaf certificate, when curl captured it.
std::optional<std::string> peer_certificate(CURL* curl) {
    // certinfo[0] is the leaf; its "Cert:" field is the PEM text.
    curl_certinfo* info = nullptr;
    std::optional<std::string> pem;
    if (curl_easy_getinfo(curl, CURLINFO_CERTINFO, &info) == CURLE_OK && info &&
        info->num_of_certs > 0)
        for (auto* field = info->certinfo[0]; field; field = field->next)
            if (std::string_view(field->data).rfind("Cert:", 0) == 0)
                pem = field->data + 5;
    return pem;
}

} // namespace

Response Client::send(const Request& request) {
    Easy easy(static_cast<CURL*>(curl_), request);
    Transfer transfer;
    SList headers;
    char error_buffer[CURL_ERROR_SIZE] = {0};
    set_connection(easy, options_, transfer, error_buffer);
    set_tls(easy, options_.tls, pin_);
    set_method_and_body(easy);
    set_headers(easy, headers);

    auto rc = curl_easy_perform(easy.handle());
    // The error buffer lives on this stack frame.
    curl_easy_setopt(easy.handle(), CURLOPT_ERRORBUFFER, nullptr);
    if (rc != CURLE_OK)
        easy.fail(error_buffer[0] ? error_buffer : curl_easy_strerror(rc));
    curl_easy_getinfo(easy.handle(), CURLINFO_RESPONSE_CODE, &transfer.response.status);
    if (options_.capture_certificate)
        if (auto pem = peer_certificate(easy.handle()))
            transfer.response.peer_certificate = std::move(*pem);
    return std::move(transfer.response);
}

std::string body_excerpt(std::string_view body) {
    std::string out;
    for (char c : body.substr(0, 200))
        out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    if (body.size() > 200)
        out += "...";
    return out;
}

} // namespace fedi::http
