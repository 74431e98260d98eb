#include "core/error.hpp"

namespace shipshape {

std::string_view errc_name(Errc code) {
    switch (code) {
        case Errc::invalid_argument:
            return "invalid_argument";
        case Errc::invalid_definition:
            return "invalid_definition";
        case Errc::not_found:
            return "not_found";
        case Errc::already_exists:
            return "already_exists";
        case Errc::conflict:
            return "conflict";
        case Errc::permission_denied:
            return "permission_denied";
        case Errc::unsupported:
            return "unsupported";
        case Errc::io:
            return "io";
        case Errc::store:
            return "store";
        case Errc::timeout:
            return "timeout";
        case Errc::unreachable:
            return "unreachable";
        case Errc::interrupted:
            return "interrupted";
        case Errc::internal:
            return "internal";
    }
    return "internal";
}

std::optional<Errc> parse_errc_name(std::string_view name) {
    for (Errc c :
         {Errc::invalid_argument, Errc::invalid_definition, Errc::not_found, Errc::already_exists,
          Errc::conflict, Errc::permission_denied, Errc::unsupported, Errc::io, Errc::store,
          Errc::timeout, Errc::unreachable, Errc::interrupted, Errc::internal}) {
        if (errc_name(c) == name) {
            return c;
        }
    }
    return std::nullopt;
}

}  // namespace shipshape
