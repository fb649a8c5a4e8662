import Testing

extension Tag {
  @Tag static var clone3: Self
  @Tag static var sandbox: Self
  @Tag static var fixtures: Self
}
