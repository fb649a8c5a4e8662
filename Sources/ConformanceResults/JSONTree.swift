import Foundation

/// A fixture file as `JSONSerialization` reads it, handed to its `Decodable` types through the
/// decoder's `userInfo`: a value whose JSON type decides its meaning looks at that type here
/// instead of guessing with `decode` calls, each wrong guess being a thrown error, and a thrown
/// error costs a backtrace in a Swift Testing process.
///
/// The file is parsed when a value is first asked for (a table without such values never is),
/// by the one decode that owns the tree.
public final class JSONTree: @unchecked Sendable {  // used by one decode, on its thread
  // swift-format-ignore: NeverForceUnwrap
  // The initializer is failable only to satisfy RawRepresentable; any string is a key.
  public static let key = CodingUserInfoKey(rawValue: "pidns.JSONTree")!

  /// A JSON value by its type.
  public enum Value {
    case number(Int64)
    case text(String)
    case flag(Bool)
    case list([Any])
    case object([String: Any])
    case other
  }

  private let data: Data
  /// The parsed file; nil for malformed JSON, which the decoder reports in its own words.
  private lazy var root: Any? = try? JSONSerialization.jsonObject(
    with: data, options: .fragmentsAllowed)

  private init(_ data: Data) { self.data = data }

  /// A decoder for `data` whose `userInfo` carries the tree.
  public static func decoder(for data: Data) -> JSONDecoder {
    let decoder = JSONDecoder()
    decoder.userInfo[key] = JSONTree(data)
    return decoder
  }

  /// The value at `decoder`'s coding path, if it decodes a tree.
  public static func value(for decoder: any Decoder) -> Value? {
    (decoder.userInfo[key] as? JSONTree)?.value(at: decoder.codingPath)
  }

  func value(at path: [any CodingKey]) -> Value? {
    guard var node = root else { return nil }
    for key in path {
      if let object = node as? [String: Any], let next = object[key.stringValue] {
        node = next
      } else if let list = node as? [Any], let index = key.intValue, list.indices.contains(index) {
        node = list[index]
      } else {
        return nil
      }
    }
    return Self.classify(node)
  }

  private static let booleanType = type(of: NSNumber(value: true))

  static func classify(_ node: Any) -> Value {
    switch node {
    case let text as String: return .text(text)
    case let list as [Any]: return .list(list)
    case let object as [String: Any]: return .object(object)
    case let number as NSNumber:
      if type(of: number) == booleanType { return .flag(number.boolValue) }
      // A fraction, or an integer beyond Int64 (read as unsigned), is left to `Decodable`.
      switch String(cString: number.objCType) {
      case "d", "f": return .other
      case "Q" where number.uint64Value > UInt64(Int64.max): return .other
      default: return .number(number.int64Value)
      }
    default: return .other
    }
  }
}
