// Package drafts owns the drafts folder: a folder of Markdown files (by
// default ~/Seedpod/Drafts) that are the user's drafts, written in any
// editor, two-way synced with the pod's drafts, published from the app or
// with `seedpod publish FILE`.
//
// # The file format
//
// A draft file is UTF-8 Markdown of at most 1 MiB (MaxFileSize), named
// *.md or *.markdown (a UTF-8 name), at the top of the folder. It may start with YAML front
// matter between "---" lines:
//
//	---
//	audience: public            # or a list of aspect names: [Friends, Work]
//	tags: [cats, caturday]      # added to the post as #hashtags
//	nsfw: true                  # adds #nsfw
//	content_warning: spoilers   # a first line "CW: spoilers"
//	location: {address: Berlin, lat: 52.52, lng: 13.405}
//	photos: [photos/cat.jpg]    # relative to the file, inside the folder
//	poll: {question: "Tea or coffee?", answers: [Tea, Coffee]}
//	---
//	The text of the post.
//
// Every key is optional; unknown keys, anchors and aliases are errors.
// Without an audience a draft cannot be published (nothing is ever public
// by accident). A photo added in the app has no file: it is written as
// "photo:<guid>". Parse and Render read and write the format.
//
// # Files and drafts
//
// The index <folder>/.seedpod/index.json maps each file to its draft, with
// the file's hash and the draft's revision at the last sync, so the files
// themselves carry no ids and are never modified to track them. From it:
//
//   - a new file makes a draft; a file renamed (same content under another
//     name) keeps its draft; a deleted file deletes its draft;
//   - a draft made in the app (or on another device) gets a file named
//     after its first line and the end of its id, "hello-world-7kq2xz.md";
//     a draft changed in the app rewrites its file atomically (temporary
//     file in the folder, fsync, rename); a deleted draft removes its file,
//     a published one moves it to Published/ (never replacing a file
//     there);
//   - a file is never written while it has an error (bad front matter, an
//     unknown aspect, a photo that is not a picture): the draft shows the
//     error, the user's bytes stay as they are;
//   - a file whose draft was deleted in the app after the file changed is
//     kept, and its text comes back as the draft; a draft changed in the
//     app whose file was deleted keeps living and gets its file back.
//
// Each device keeps its own folder: drafts reach the other devices as ops,
// so the folder must not also be synced by another tool.
//
// Conflicts keep both versions. The draft is a multi-value register: when
// the file and the app both changed since the last sync, the file's text is
// written superseding only the version the file held, so the app's version
// stays live beside it and the app shows the draft's conflict. In the
// folder the file keeps the file's text and every other live version (also
// one made concurrently on another device) gets a conflict copy
// "name.conflict-<8 hex>.md". Copies are views: edits to them are ignored;
// deleting one dismisses that version; resolving in the app removes them.
//
// # Watching
//
// Run watches the folder with fsnotify. Editors save in many ways (write a
// temporary file and rename it over, truncate and write, vim's 4913 probe,
// swap and backup files, emacs' lock files): side files are ignored by
// name (IsDraftName), and a file is read only after Options.Quiet without
// events and when two stats around the read agree, so one save is one
// draft update and a writer that pauses for less than Quiet is never read
// half-way. (A writer that stops for longer than Quiet in the middle of a
// file cannot be told from a finished save: fsnotify v1.10 does not expose
// inotify's close-after-write. The draft then takes the partial text, and
// the whole at the writer's next event.) A full comparison every
// Options.Rescan catches lost events. The
// folder is bounded (MaxFiles, MaxFileSize, the index's size); a vanished
// folder stops the watcher instead of deleting every draft.
//
// This package reaches the pod only through Host. It must not import pod,
// pod/store, pod/web or anything that opens a database or the network.
package drafts
