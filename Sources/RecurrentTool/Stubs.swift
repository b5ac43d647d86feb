// Placeholders replaced by their own files.
import ArgumentParser

struct Gradients: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure how gradients shrink or grow with distance (to come).")
}
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train on a CSV or text file (to come).")
}
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate text from a checkpoint (to come).")
}
