/// The application layer: what each command does, independent of argument parsing.
public enum VidformerInfo {
    public static let version = "0.1.0"
}
