import ConformanceSupport
import Testing

/// `$PIDNS_CASES` selects by the ids the reports show, whole components at a time.
@Suite struct CaseSelectionTests {
  @Test func `a selector selects its id and the ids that continue it after a dot`() throws {
    let selection = try #require(CaseSelection("clone3.size.6, set_tid.order"))
    #expect(selection.selects(id: "clone3.size.6", tags: []))
    #expect(!selection.selects(id: "clone3.size.60", tags: []))
    #expect(selection.selects(id: "set_tid.order.no-init.unprivileged", tags: []))
    #expect(!selection.selects(id: "set_tid.orderly", tags: []))
    #expect(selection.description == "cases: clone3.size.6 set_tid.order")
  }

  @Test func `a tag selector selects the tables of the suites with that tag`() throws {
    let selection = try #require(CaseSelection("tag:nsfs"))
    #expect(selection.selects(id: "anything", tags: ["nsfs"]))
    #expect(!selection.selects(id: "nsfs.ioctl.nstype.pid", tags: ["clone3"]))
  }

  @Test func `an empty selection is no selection`() {
    #expect(CaseSelection(" , ") == nil)
  }

  @Test func `a table loads only its selected rows`() throws {
    let table = try Fixtures.load("clone3-sizes.json", selection: CaseSelection("clone3.size.63"))
    #expect(table.cases.map(\.id).sorted() == ["clone3.size.63", "clone3.size.63.inaccessible"])
    let tagged = try Fixtures.load("nsfs-ioctl.json", selection: CaseSelection("tag:nsfs"))
    let whole = try Fixtures.load("nsfs-ioctl.json", selection: nil)
    #expect(tagged.cases.count == whole.cases.count)
    let unselected = try Fixtures.load("nsfs-ioctl.json", selection: CaseSelection("tag:clone3"))
    #expect(unselected.cases.isEmpty)
  }

  @Test func `every table names its suite's tags for tag selectors`() throws {
    for name in try Fixtures.tableNames() {
      let table = try FixtureFile<Ignored>.load(name, from: Fixtures.directory)
      #expect(!table.tags.isEmpty, "\(name)")
    }
  }
}
