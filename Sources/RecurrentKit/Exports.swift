@_exported import RecurrentCore
