import Glibc

/// Memory that ends exactly where an inaccessible page begins.
///
/// clone3 reads `size` bytes of `struct clone_args` and must never read past them; placing the
/// struct right before a `PROT_NONE` page turns any over-read into EFAULT. Sandbox processes
/// inherit the mapping, so an address from here is valid (or deliberately not) in the child too.
public final class GuardedMemory {
  private let base: UnsafeMutableRawPointer
  private let mappedBytes: Int
  /// First byte of the inaccessible page.
  public let guardAddress: UnsafeMutableRawPointer

  /// Maps enough pages for `capacity` usable bytes, then one `PROT_NONE` page after them.
  public init(capacity: Int) throws(Errno) {
    let page = RunningKernel.pageSize
    let usablePages = max(1, (capacity + page - 1) / page)
    mappedBytes = (usablePages + 1) * page
    guard
      let mapping = mmap(
        nil, mappedBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
      mapping != MAP_FAILED
    else { throw Errno(rawValue: errno) }
    base = mapping
    guardAddress = mapping + usablePages * page
    guard mprotect(guardAddress, page, PROT_NONE) == 0 else {
      let error = Errno(rawValue: errno)
      munmap(mapping, mappedBytes)
      throw error
    }
  }

  deinit { munmap(base, mappedBytes) }

  /// Writable bytes `[guard - count, guard)`, zero-filled: the struct then ends at the guard.
  public func bytesEndingAtGuard(_ count: Int) -> UnsafeMutableRawBufferPointer {
    precondition(count <= guardAddress - base)
    let start = guardAddress - count
    start.initializeMemory(as: UInt8.self, repeating: 0, count: count)
    return UnsafeMutableRawBufferPointer(start: start, count: count)
  }
}
