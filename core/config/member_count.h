// The number of members of an aggregate, at compile time: the largest N for which T can be
// brace-initialised from N values of a type convertible to anything. RunConfig's field table
// uses it so that a struct member without a table row fails the build (run_config.cpp).
#pragma once
#include <cstddef>
#include <utility>

namespace lowbit {
namespace detail {

struct AnyInit {
  // Reference conversions only, so that class types with converting constructor templates
  // (nlohmann::json, std::string) take the conversion operator instead of being ambiguous.
  template <class T>
  operator T&() const;
  template <class T>
  operator T&&() const;
};

template <class T, class... A>
constexpr auto braces_init(int) -> decltype(T{std::declval<A>()...}, true) {
  return true;
}
template <class T, class... A>
constexpr bool braces_init(...) {
  return false;
}

}  // namespace detail

/// REQUIRES: T is an aggregate without base classes or array members.
template <class T, class... A>
constexpr size_t count_members() {
  if constexpr (detail::braces_init<T, A..., detail::AnyInit>(0))
    return count_members<T, A..., detail::AnyInit>();
  else
    return sizeof...(A);
}

}  // namespace lowbit
