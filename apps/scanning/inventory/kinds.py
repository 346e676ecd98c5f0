"""The kinds of records the walk keeps, by which detector reads them. NOTE records
carry a line for ``Inventory.unsupported``, tied to a path so that a whiteout or a
later layer's file takes it away too."""

OS_RELEASE = "os-release"
DPKG = "dpkg"
DPKG_DISTROLESS = "dpkg-status.d"
APK = "apk"
RPM = "rpm"
PYTHON = "python"
NPM_PACKAGE = "npm-package"
NPM_LOCK = "npm-lock"
GO_BINARY = "go"
JAVA_ARCHIVE = "java"
NOTE = "note"
