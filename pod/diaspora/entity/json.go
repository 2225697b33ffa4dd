package entity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Archive JSON form (§7.5): {"entity_type", "entity_data", "property_order"}.
// Used by account export/import only, never on the federation wire. Nested
// entities are objects of the same shape; arrays use plural keys (photos,
// poll_answers, messages).

// ParseJSON decodes and validates one entity from its archive JSON form.
func ParseJSON(data []byte) (Entity, error) {
	if len(data) > MaxPayload {
		return nil, fmt.Errorf("%w: JSON of %d bytes exceeds %d", ErrParse, len(data), MaxPayload)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	p := &jsonParser{d: d}
	n, err := p.entity(0, false)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the JSON entity", ErrParse)
	}
	return fromNode(n)
}

type jsonParser struct {
	d     *json.Decoder
	count int
}

func (p *jsonParser) tok() (json.Token, error) {
	t, err := p.d.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: JSON: %v", ErrParse, err)
	}
	return t, nil
}

func (p *jsonParser) delim(want json.Delim) error {
	t, err := p.tok()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("%w: JSON: expected %q", ErrParse, want)
	}
	return nil
}

// entity reads {"entity_type":…, "entity_data":{…}, "property_order":[…]}
// into a node whose children follow property_order (then the remaining
// keys in document order).
func (p *jsonParser) entity(depth int, opened bool) (*node, error) {
	if depth >= MaxDepth {
		return nil, fmt.Errorf("%w: JSON nesting deeper than %d", ErrParse, MaxDepth)
	}
	if !opened {
		if err := p.delim('{'); err != nil {
			return nil, err
		}
	}
	n := &node{}
	var order []string
	var kids []*node
	seenData := false
	for p.d.More() {
		t, err := p.tok()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		switch key {
		case "entity_type":
			t, err := p.tok()
			if err != nil {
				return nil, err
			}
			s, ok := t.(string)
			if !ok {
				return nil, fmt.Errorf("%w: JSON entity_type is not a string", ErrParse)
			}
			n.name = s
		case "entity_data":
			if seenData {
				return nil, fmt.Errorf("%w: JSON duplicate entity_data", ErrParse)
			}
			seenData = true
			if kids, err = p.data(depth); err != nil {
				return nil, err
			}
		case "property_order":
			if err := p.delim('['); err != nil {
				return nil, err
			}
			for p.d.More() {
				t, err := p.tok()
				if err != nil {
					return nil, err
				}
				s, ok := t.(string)
				if !ok || len(order) >= MaxElements {
					return nil, fmt.Errorf("%w: JSON property_order", ErrParse)
				}
				order = append(order, s)
			}
			if err := p.delim(']'); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: JSON unexpected key %q", ErrParse, trunc(key))
		}
	}
	if err := p.delim('}'); err != nil {
		return nil, err
	}
	if n.name == "" || !seenData {
		return nil, fmt.Errorf("%w: JSON entity without entity_type or entity_data", ErrParse)
	}
	// Reorder per property_order.
	used := make([]bool, len(kids))
	for _, name := range order {
		for i, k := range kids {
			if !used[i] && k.name == name {
				used[i] = true
				n.kids = append(n.kids, k)
				break
			}
		}
	}
	for i, k := range kids {
		if !used[i] {
			n.kids = append(n.kids, k)
		}
	}
	return n, nil
}

func (p *jsonParser) data(depth int) ([]*node, error) {
	if err := p.delim('{'); err != nil {
		return nil, err
	}
	var kids []*node
	for p.d.More() {
		t, err := p.tok()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		if p.count++; p.count > MaxElements {
			return nil, fmt.Errorf("%w: more than %d JSON properties", ErrParse, MaxElements)
		}
		t, err = p.tok()
		if err != nil {
			return nil, err
		}
		switch v := t.(type) {
		case json.Delim:
			switch v {
			case '{':
				k, err := p.entity(depth+1, true)
				if err != nil {
					return nil, err
				}
				kids = append(kids, k)
			case '[':
				for p.d.More() {
					k, err := p.entity(depth+1, false)
					if err != nil {
						return nil, err
					}
					kids = append(kids, k)
				}
				if err := p.delim(']'); err != nil {
					return nil, err
				}
			default:
				return nil, fmt.Errorf("%w: JSON unexpected %q", ErrParse, v)
			}
		case string:
			kids = append(kids, &node{name: key, text: v})
		case bool:
			s := "false"
			if v {
				s = "true"
			}
			kids = append(kids, &node{name: key, text: s})
		case json.Number:
			kids = append(kids, &node{name: key, text: v.String()})
		case nil:
			kids = append(kids, &node{name: key})
		}
	}
	return kids, p.delim('}')
}

// MarshalJSON renders e in the archive JSON form (two-space indentation,
// trailing newline, keys in the reference's order; relayables carry
// property_order).
func MarshalJSON(e Entity) ([]byte, error) {
	c, err := validCodec(e)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(jsonEntity(c)); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, e.Type(), err)
	}
	return b.Bytes(), nil
}

// obj is a JSON object with ordered keys.
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.k)
		b.Write(k)
		b.WriteByte(':')
		var vb bytes.Buffer
		enc := json.NewEncoder(&vb)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(m.v); err != nil {
			return nil, err
		}
		b.Write(bytes.TrimRight(vb.Bytes(), "\n"))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func jsonEntity(c codec) obj {
	n := c.encode()
	data := jsonData(n)
	out := obj{{"entity_type", n.name}}
	if r, ok := c.(Relayable); ok {
		// The reference lists the Relayable module's properties first
		// (author, guid, parent_guid, author_signature), then the type's own.
		var head, tail obj
		var sig *kv
		for i, m := range data {
			switch m.k {
			case "author", "guid", "parent_guid":
				head = append(head, m)
			case "author_signature":
				sig = &data[i]
			default:
				tail = append(tail, m)
			}
		}
		if sig != nil {
			head = append(head, *sig)
		}
		order := []string{}
		for _, f := range fields(r) {
			order = append(order, f.name)
		}
		return append(out, kv{"entity_data", append(head, tail...)}, kv{"property_order", order})
	}
	return append(out, kv{"entity_data", data})
}

func jsonData(n *node) obj {
	var data obj
	lists := map[string]int{}
	for _, k := range n.kids {
		switch {
		case k.list:
			key := k.name + "s"
			sub := jsonNested(k)
			if i, ok := lists[key]; ok {
				data[i].v = append(data[i].v.([]any), sub)
				continue
			}
			lists[key] = len(data)
			data = append(data, kv{key, []any{sub}})
		case len(k.kids) > 0:
			data = append(data, kv{k.name, jsonNested(k)})
		case k.kind == kBool:
			data = append(data, kv{k.name, k.text == "true"})
		case k.kind == kInt:
			data = append(data, kv{k.name, json.RawMessage(k.text)})
		default:
			data = append(data, kv{k.name, k.text})
		}
	}
	return data
}

func jsonNested(n *node) obj {
	return obj{{"entity_type", n.name}, {"entity_data", jsonData(n)}}
}
