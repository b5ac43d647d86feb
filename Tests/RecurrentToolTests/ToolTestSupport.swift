// Helpers the tool's tests share: temporary directories, SVG parsing, running a command line.

import Foundation
@testable import RecurrentTool
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A fresh temporary directory for one test's outputs.
func freshDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-tool-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Parses `url` as XML; returns how many `polyline` elements it has (nil when it does not parse).
func polylineCount(inSVG url: URL) throws -> Int? {
    final class Counter: NSObject, XMLParserDelegate {
        var polylines = 0, sawSVG = false
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if name == "svg" { sawSVG = true }
            if name == "polyline" { polylines += 1 }
        }
    }
    let parser = XMLParser(data: try Data(contentsOf: url))
    let counter = Counter()
    parser.delegate = counter
    return parser.parse() && counter.sawSVG ? counter.polylines : nil
}

/// Parses and runs `recurrent` with `arguments`.
func runTool(_ arguments: [String]) throws {
    var command = try RecurrentCommand.parseAsRoot(arguments)
    try command.run()
}
