import Testing

extension Tag {
  @Tag static var clone3: Self
}
