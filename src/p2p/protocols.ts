// Names of everything GitConfig puts on the wire, in one place (the version is part of each name).
export const headsTopic = 'gitconfig/heads/1'
export const headsProtocol = '/gitconfig/heads/1.0.0'
export const peersProtocol = '/gitconfig/peers/1.0.0'
export const fetchProtocol = '/gitconfig/fetch/1.0.0'
export const raftProtocol = '/gitconfig/raft/1.0.0'
