/// Which line a packet came in on: the configured lines are 0, 1, ...; replies from the re-request server carry
/// `recovery`, so the pipeline can count what recovery delivered.
public enum LineIndex {
    public static let recovery = 255
}
