// CSV time series for `recurrent train --csv`: parsing (errors name the line and the column),
// one-step-ahead windows split chronologically, per-column scaling (z-score, min–max, none)
// fitted on the training part only, and first differences for series that trend.
import ArgumentParser
import Foundation
import RecurrentKit

/// A numeric table read from a CSV file: a header row of column names, then rows of numbers.
struct CSVSeries: Equatable {
    /// The file (or description) the table came from, for error messages.
    var source: String
    var columns: [String]
    /// One array per data row, in file order, each with `columns.count` values.
    var rows: [[Double]]

    /// The column names, quoted, for messages: `"time", "temp", "load"`.
    var columnList: String { columns.map { "\"\($0)\"" }.joined(separator: ", ") }

    /// Reads and parses `path`.
    static func read(path: String) throws -> CSVSeries {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw RecurrentError.file(path: path, reason: "no such file (expected a CSV file with a header row)")
        }
        guard !isDirectory.boolValue else { throw RecurrentError.file(path: path, reason: "is a directory, not a CSV file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RecurrentError.file(path: path, reason: "cannot be read")
        }
        return try CSVSeries(data: data, source: path)
    }

    /// Parses the bytes of a CSV file (UTF-8).
    init(data: Data, source: String) throws {
        guard let text = String(data: data, encoding: .utf8) else {
            throw RecurrentError.file(path: source, reason: "is not UTF-8 text (expected a CSV file): \(TextCorpus.invalidUTF8(in: data))")
        }
        try self.init(parsing: text, source: source)
    }

    init(source: String, columns: [String], rows: [[Double]]) {
        self.source = source
        self.columns = columns
        self.rows = rows
    }

    /// Parses CSV text: line 1 is the header, every other non-blank line a row with one number
    /// per column. Blank lines are skipped (but counted, so line numbers match an editor's).
    /// Cells may be quoted ("…", with "" for a quote).
    init(parsing text: String, source: String) throws {
        func fail(_ reason: String) -> RecurrentError { .file(path: source, reason: reason) }
        // "\r\n" is one Character in Swift: split on it as well as on "\n" and "\r".
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        if let first = lines.first, first.hasPrefix("\u{FEFF}") { lines[0] = first.dropFirst() }
        guard let headerLine = lines.first, !headerLine.allSatisfy(\.isWhitespace) else {
            throw fail(lines.count <= 1 ? "is empty (expected a header row of column names, then rows of numbers)"
                                        : "line 1: expected a header row of column names, got a blank line")
        }
        let header = try Self.cells(of: headerLine, line: 1, source: source)
        for (k, name) in header.enumerated() where name.isEmpty {
            throw fail("line 1, column \(k + 1): expected a column name, got an empty cell")
        }
        let names = header
        if let duplicate = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw fail("line 1: expected distinct column names, got \"\(duplicate)\" more than once")
        }
        if names.allSatisfy({ Double($0) != nil }) {
            throw fail("line 1: expected a header row of column names, got only numbers (\(headerLine)); add a header row")
        }
        let list = names.map { "\"\($0)\"" }.joined(separator: ", ")
        var rows: [[Double]] = []
        for (offset, line) in lines.enumerated().dropFirst() where !line.allSatisfy(\.isWhitespace) {
            let number = offset + 1
            let cells = try Self.cells(of: line, line: number, source: source)
            guard cells.count == names.count else {
                throw fail("line \(number): expected \(names.count) cells (\(list)), got \(cells.count)")
            }
            var row: [Double] = []
            row.reserveCapacity(cells.count)
            for (k, cell) in cells.enumerated() {
                guard let value = Double(cell) else {
                    throw fail("line \(number), column \(k + 1) (\"\(names[k])\"): expected a number, got \"\(cell)\"")
                }
                guard value.isFinite else {
                    throw fail("line \(number), column \(k + 1) (\"\(names[k])\"): expected a finite number, got \"\(cell)\"")
                }
                row.append(value)
            }
            rows.append(row)
        }
        guard !rows.isEmpty else { throw fail("has a header row (\(list)) but no data rows") }
        self.init(source: source, columns: names, rows: rows)
    }

    /// The cells of one line, split at commas outside quotes, trimmed of surrounding spaces.
    private static func cells(of line: Substring, line number: Int, source: String) throws -> [String] {
        var cells: [String] = [], current = "", inQuotes = false, wasQuoted = false
        var characters = line.makeIterator()
        var pending: Character? = nil
        func next() -> Character? {
            if let p = pending { pending = nil; return p }
            return characters.next()
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    let following = next()
                    if following == "\"" { current.append("\"") } else { inQuotes = false; pending = following }
                } else {
                    current.append(c)
                }
            } else if c == "\"" && current.allSatisfy(\.isWhitespace) {
                inQuotes = true
                wasQuoted = true
                current = ""
            } else if c == "," {
                cells.append(wasQuoted ? current : current.trimmingCharacters(in: .whitespaces))
                current = ""
                wasQuoted = false
            } else if wasQuoted {
                guard c.isWhitespace else {
                    throw RecurrentError.file(path: source, reason: "line \(number), column \(cells.count + 1): unexpected text after a closing quote")
                }
            } else {
                current.append(c)
            }
        }
        if inQuotes {
            throw RecurrentError.file(path: source, reason: "line \(number), column \(cells.count + 1): a quote is not closed on this line")
        }
        cells.append(wasQuoted ? current : current.trimmingCharacters(in: .whitespaces))
        return cells
    }

    /// The index of the column called `name` (nil: the last column).
    func columnIndex(named name: String?) throws -> Int {
        guard let name else { return columns.count - 1 }
        guard let index = columns.firstIndex(of: name) else {
            throw UserFacingError(description: "--target \"\(name)\": \(source) has no such column; its columns are \(columnList)")
        }
        return index
    }
}

/// How `train --csv` scales each column before training.
enum NormalizationMethod: String, Codable, CaseIterable, ExpressibleByArgument {
    /// (x − mean) / std (the default).
    case zscore
    /// (x − min) / (max − min): the training rows span [0, 1].
    case minmax
    /// (x − mid) / half-range: the training rows span [−1, 1], tanh's range.
    case symmetric = "minmax-symmetric"
    /// The values as they are.
    case none
}

/// Per-column affine scaling `(x − offset) / scale`, fitted on the training rows: z-score,
/// min–max to [0, 1] or [−1, 1], or none. A zero spread (a constant column) is replaced by 1,
/// so the column becomes constant rather than NaN.
struct ColumnScaling: Codable, Equatable {
    var method: NormalizationMethod
    var offset: [Double]
    var scale: [Double]

    init(method: NormalizationMethod, offset: [Double], scale: [Double]) {
        self.method = method
        self.offset = offset
        self.scale = scale
    }

    /// `method`'s statistics over `rows` (population standard deviation for z-scores).
    static func fit<Rows: Collection>(_ rows: Rows, method: NormalizationMethod = .zscore) -> ColumnScaling where Rows.Element == [Double] {
        guard let width = rows.first?.count else { return ColumnScaling(method: method, offset: [], scale: []) }
        let n = Double(rows.count)
        var offset = [Double](repeating: 0, count: width), scale = [Double](repeating: 1, count: width)
        for k in 0..<width {
            let column = rows.map { $0[k] }
            let low = column.min()!, high = column.max()!, mean = column.reduce(0, +) / n
            let spread: Double
            switch method {
            case .zscore:
                offset[k] = mean
                spread = (column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
            case .minmax:
                offset[k] = low
                spread = high - low
            case .symmetric:
                offset[k] = (high + low) / 2
                spread = (high - low) / 2
            case .none:
                continue
            }
            // Rounding leaves a constant column a tiny non-zero spread: treat it as zero.
            scale[k] = spread > 1e-12 * max(1, abs(offset[k])) ? spread : 1
        }
        return ColumnScaling(method: method, offset: offset, scale: scale)
    }

    func normalize(_ value: Double, column: Int) -> Float { Float((value - offset[column]) / scale[column]) }
    func denormalize(_ value: Float, column: Int) -> Double { Double(value) * scale[column] + offset[column] }

    private enum CodingKeys: String, CodingKey { case method, offset, scale, mean, std }

    /// Also reads the z-score statistics (`mean`, `std`) that older model.json files hold.
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let offset = try c.decodeIfPresent([Double].self, forKey: .offset) {
            self.init(method: try c.decode(NormalizationMethod.self, forKey: .method), offset: offset,
                      scale: try c.decode([Double].self, forKey: .scale))
        } else {
            self.init(method: .zscore, offset: try c.decode([Double].self, forKey: .mean), scale: try c.decode([Double].self, forKey: .std))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encode(offset, forKey: .offset)
        try c.encode(scale, forKey: .scale)
    }
}

/// The first differences of every column, `rows[i + 1] − rows[i]` (Box–Jenkins differencing):
/// a series with a trend becomes one of changes, whose range the training part covers.
extension CSVSeries {
    func differenced() throws -> CSVSeries {
        guard rows.count >= 2 else {
            throw RecurrentError.file(path: source, reason: "--difference needs at least 2 data rows, got \(rows.count)")
        }
        let changes = (1..<rows.count).map { i in zip(rows[i], rows[i - 1]).map { $0 - $1 } }
        return CSVSeries(source: source, columns: columns, rows: changes)
    }
}

/// One-step-ahead forecasting windows over a series: sample i is rows i ..< i + window (every
/// column, normalised) and its target the target column of row i + window. The last
/// `validationFraction` of the windows (chronologically) are the validation set.
struct CSVWindows {
    let window: Int
    let targetColumn: Int
    /// Windows in all, for training and for validation.
    let count: Int, trainCount: Int, validationCount: Int

    /// The rows the training windows read, inputs and targets: 0 ..< trainingRows. The
    /// normalisation statistics come from these rows only.
    var trainingRows: Int { trainCount - 1 + window + 1 }

    /// Checks that `series` has enough rows for `window` and the split; the errors say how many
    /// rows there are and what the options need.
    init(series: CSVSeries, window: Int, targetColumn: Int, validationFraction: Double) throws {
        guard window >= 1 else { throw UserFacingError(description: "expected --window ≥ 1, got \(window)") }
        guard validationFraction > 0, validationFraction < 1 else {
            throw UserFacingError(description: "expected --validation-fraction between 0 and 1 (exclusive), got \(validationFraction)")
        }
        let rows = series.rows.count
        guard rows > window else {
            throw RecurrentError.file(path: series.source, reason:
                "\(rows) data rows is too short for --window \(window): a window needs \(window + 1) rows "
                + "(\(window) of input and the next as the target), and a validation split at least \(window + 2)")
        }
        let n = rows - window
        let validation = Int((Double(n) * validationFraction).rounded())
        guard validation >= 1, validation < n else {
            let needed = (2...).first { m in
                let v = Int((Double(m) * validationFraction).rounded())
                return (v >= 1 && v < m) || m > 10_000_000
            }!
            throw RecurrentError.file(path: series.source, reason:
                "too few rows for a validation split: \(rows) data rows with --window \(window) give \(n) window\(n == 1 ? "" : "s"), "
                + "and --validation-fraction \(validationFraction) leaves \(n - validation) for training and \(validation) for validation; "
                + "at least one of each needs \(needed + window) rows (or a smaller --window, or another --validation-fraction)")
        }
        self.window = window
        self.targetColumn = targetColumn
        count = n
        validationCount = validation
        trainCount = n - validation
    }

    /// The normalisation of the training rows only.
    func fitNormalization(_ series: CSVSeries, method: NormalizationMethod = .zscore) -> ColumnScaling {
        ColumnScaling.fit(series.rows[0..<trainingRows], method: method)
    }

    /// Training and validation datasets: inputs (N, window, columns) and targets (N, 1), normalised.
    func datasets(_ series: CSVSeries, normalization z: ColumnScaling) throws -> (train: SequenceDataset, validation: SequenceDataset) {
        let width = series.columns.count
        for k in 0..<width where !(z.offset[k].isFinite && z.scale[k].isFinite) {
            throw RecurrentError.file(path: series.source, reason: "column \(k + 1) (\"\(series.columns[k])\"): its values are too large "
                                      + "to scale (\(z.method.rawValue) statistics \(z.offset[k]), \(z.scale[k])); rescale the column")
        }
        let normalized = try series.rows.enumerated().map { i, row in
            try row.enumerated().map { k, value in
                let x = z.normalize(value, column: k)
                guard x.isFinite else {
                    throw RecurrentError.file(path: series.source, reason: "data row \(i + 1), column \(k + 1) (\"\(series.columns[k])\"): "
                                              + "\(value) is beyond 32-bit floats after \(z.method.rawValue) scaling; rescale the column")
                }
                return x
            }
        }
        func make(_ range: Range<Int>) throws -> SequenceDataset {
            try HostMemory.check(bytes: HostMemory.product([range.count, window, width, MemoryLayout<Float>.stride]),
                                 for: "\(range.count) CSV windows of \(window) rows × \(width) columns")
            var x: [Float] = [], y: [Float] = []
            x.reserveCapacity(range.count * window * width)
            y.reserveCapacity(range.count)
            for i in range {
                for row in i..<(i + window) { x += normalized[row] }
                y.append(normalized[i + window][targetColumn])
            }
            return try SequenceDataset(inputs: x, targets: y, count: range.count, sequenceLength: window, featureCount: width,
                                       targetLayout: .perSequence([1]))
        }
        return (try make(0..<trainCount), try make(trainCount..<count))
    }

    /// Root mean squared error, in the target's units, of predicting each validation target as
    /// the previous row's value (the persistence baseline a forecaster should beat).
    func persistenceRMSE(_ series: CSVSeries) -> Double {
        var sum = 0.0
        for i in trainCount..<count {
            let d = series.rows[i + window][targetColumn] - series.rows[i + window - 1][targetColumn]
            sum += d * d
        }
        return (sum / Double(validationCount)).squareRoot()
    }

    /// On a differenced series: the RMSE, in the target's units, of predicting no change — the
    /// persistence baseline of the original series.
    func noChangeRMSE(_ changes: CSVSeries) -> Double {
        let sum = (trainCount..<count).reduce(0.0) { s, i in s + changes.rows[i + window][targetColumn] * changes.rows[i + window][targetColumn] }
        return (sum / Double(validationCount)).squareRoot()
    }
}
